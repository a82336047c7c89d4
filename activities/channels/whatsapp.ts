// WhatsApp Cloud API client: the calls a conversation makes on a tenant's WhatsApp number.
// It does not retry: Temporal retries the activity around it, driven by the failure types from
// graph-errors.ts (transient, throttled with nextRetryDelay, permanent).
import { DEFAULT_GRAPH_TIMEOUT_MS, postGraph, unreadableSuccessFailure } from './graph-errors.ts';
import type { OutboundFile } from './outbound-file.ts';
import type { WireComponent } from '../../lib/whatsapp-templates.ts';
import { sendInParts, splitMessage, WHATSAPP_TEXT_LIMIT, type SendTextOptions, type SendTextResult } from './split-message.ts';
import type { ChoiceSet } from '../../workflows/types.ts';
import { choicesAsText, whatsappBodyLimit, whatsappInteractive, whatsappStyle } from './interactive.ts';

export interface WhatsAppClientOptions {
  /** META_GRAPH_API_URL, e.g. https://graph.facebook.com/v21.0 */
  graphApiUrl: string;
  phoneNumberId: string;
  accessToken: string;
  timeoutMs?: number;
}

export class WhatsAppClient {
  readonly #url: string;
  readonly #accessToken: string;
  readonly #timeoutMs: number;

  constructor({ graphApiUrl, phoneNumberId, accessToken, timeoutMs = DEFAULT_GRAPH_TIMEOUT_MS }: WhatsAppClientOptions) {
    this.#url = `${graphApiUrl.replace(/\/+$/, '')}/${encodeURIComponent(phoneNumberId)}/messages`;
    this.#accessToken = accessToken;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Sends `text` to the user `to` (a WhatsApp id or phone number), split into parts of at most
   * 4096 characters sent in order. On failure, details[0] says which parts were delivered
   * (PartialSendDetails); see sendInParts for resuming with `startAtPart`.
   */
  sendText(to: string, text: string, options: SendTextOptions & { choices?: ChoiceSet } = {}): Promise<SendTextResult> {
    // Choices: reply buttons or a list on the last part (whose body limit is shorter), else as text.
    const style = options.choices ? whatsappStyle(options.choices) : null;
    const full = options.choices && !style ? choicesAsText(text, options.choices) : text;
    const parts = splitMessage(full, style ? whatsappBodyLimit(style) : WHATSAPP_TEXT_LIMIT);
    return sendInParts(parts, options, async (body, progress) => {
      const last = progress.failedPartIndex === progress.partCount - 1;
      const content =
        style && last
          ? { type: 'interactive', interactive: whatsappInteractive(body, options.choices!, style) }
          : // WhatsApp renders a preview of the first link only if asked.
            { type: 'text', text: { body, preview_url: /https?:\/\/\S/.test(body) } };
      const response = await this.#post(
        { messaging_product: 'whatsapp', recipient_type: 'individual', to, ...content },
        'WhatsApp send',
        progress,
        options.signal,
      );
      const id = (response as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
      if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'WhatsApp send', extraDetails: { ...progress } });
      return id;
    });
  }

  /**
   * Sends an approved template (Meta's `type: "template"` message), the one message allowed
   * outside the 24-hour customer service window. `components` come from renderTemplate
   * (lib/whatsapp-templates.ts). Returns the message id Meta assigned.
   */
  async sendTemplate(to: string, template: { name: string; language: string; components: WireComponent[] }, options: { signal?: AbortSignal } = {}): Promise<string> {
    const response = await this.#post(
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to,
        type: 'template',
        template: { name: template.name, language: { code: template.language }, ...(template.components.length && { components: template.components }) },
      },
      'WhatsApp template send',
      undefined,
      options.signal,
    );
    const id = (response as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'WhatsApp template send' });
    return id;
  }

  /**
   * Sends a file: uploaded first (POST /{phone-number-id}/media, multipart), then sent by the
   * media id Meta answers as `type: image` or `type: document` (a document keeps its file name).
   * Uploading rather than linking keeps the platform's storage private. A retry after a lost
   * answer uploads again: unused uploads expire at Meta after 30 days.
   */
  async sendMedia(to: string, file: OutboundFile, options: { caption?: string; signal?: AbortSignal } = {}): Promise<string> {
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', file.mimeType);
    form.set('file', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename);
    const uploaded = await postGraph({
      url: this.#url.replace(/\/messages$/, '/media'),
      accessToken: this.#accessToken,
      body: form,
      // An upload of several megabytes takes longer than a message.
      timeoutMs: Math.max(this.#timeoutMs, 60_000),
      ...(options.signal && { signal: options.signal }),
      ctx: { operation: 'WhatsApp media upload' },
    });
    const mediaId = (uploaded as { id?: unknown } | null)?.id;
    if (typeof mediaId !== 'string' || !mediaId) throw unreadableSuccessFailure(200, { operation: 'WhatsApp media upload' });
    const media = { id: mediaId, ...(options.caption && { caption: options.caption }), ...(file.kind === 'document' && { filename: file.filename }) };
    const response = await this.#post(
      { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: file.kind, [file.kind]: media },
      'WhatsApp media send',
      undefined,
      options.signal,
    );
    const id = (response as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'WhatsApp media send' });
    return id;
  }

  /**
   * Marks the user's message as read (blue ticks) and shows "typing…" until we reply or 25 s pass.
   * One request does both: Cloud API's typing indicator is attached to a read receipt.
   */
  async markReadWithTyping(messageId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#post(
      { messaging_product: 'whatsapp', status: 'read', message_id: messageId, typing_indicator: { type: 'text' } },
      'WhatsApp mark-as-read',
      undefined,
      options.signal,
    );
  }

  #post(body: unknown, operation: string, extraDetails: object | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    return postGraph({
      url: this.#url,
      accessToken: this.#accessToken,
      body,
      timeoutMs: this.#timeoutMs,
      ...(signal && { signal }),
      ctx: { operation, ...(extraDetails && { extraDetails: { ...extraDetails } }) },
    });
  }
}
