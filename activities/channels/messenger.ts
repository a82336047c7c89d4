// Messenger Send API client: the calls a conversation makes on a tenant's Facebook Page.
// It does not retry: Temporal retries the activity around it, driven by the failure types from
// graph-errors.ts (transient, throttled with nextRetryDelay, permanent).
import { DEFAULT_GRAPH_TIMEOUT_MS, postGraph, unreadableSuccessFailure } from './graph-errors.ts';
import { PLATFORM_SEND_METADATA } from '../../lib/graph-api.ts';
import type { ChoiceSet } from '../../workflows/types.ts';
import { choicesAsText, messengerMessage, messengerStyle } from './interactive.ts';
import { MESSENGER_TEXT_LIMIT, sendInParts, splitMessage, type SendTextOptions, type SendTextResult } from './split-message.ts';
import type { OutboundFile } from './outbound-file.ts';

export interface MessengerSendOptions extends SendTextOptions {
  choices?: ChoiceSet;
  /** HUMAN_AGENT: a person's reply after the 24-hour window (up to 7 days after the user's last message). */
  tag?: 'HUMAN_AGENT';
}

export interface MessengerClientOptions {
  /** META_GRAPH_API_URL, e.g. https://graph.facebook.com/v21.0 */
  graphApiUrl: string;
  pageAccessToken: string;
  timeoutMs?: number;
}

export type SenderAction = 'typing_on' | 'typing_off' | 'mark_seen';

export class MessengerClient {
  readonly #url: string;
  readonly #pageAccessToken: string;
  readonly #timeoutMs: number;

  constructor({ graphApiUrl, pageAccessToken, timeoutMs = DEFAULT_GRAPH_TIMEOUT_MS }: MessengerClientOptions) {
    // `me` is the Page the token belongs to, so the Page id is not needed here.
    this.#url = `${graphApiUrl.replace(/\/+$/, '')}/me/messages`;
    this.#pageAccessToken = pageAccessToken;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Replies to the user `recipientId` (a page-scoped id), split into parts of at most 2000
   * characters sent in order. On failure, details[0] says which parts were delivered
   * (PartialSendDetails); see sendInParts for resuming with `startAtPart`.
   */
  sendText(recipientId: string, text: string, options: MessengerSendOptions = {}): Promise<SendTextResult> {
    const style = options.choices ? messengerStyle(text, options.choices) : null;
    const full = options.choices && !style ? choicesAsText(text, options.choices) : text;
    // RESPONSE: a reply to a message the user sent, allowed within the 24-hour window; a tagged
    // message is the exception Meta allows after it.
    const type = options.tag ? { messaging_type: 'MESSAGE_TAG', tag: options.tag } : { messaging_type: 'RESPONSE' };
    return sendInParts(splitMessage(full, MESSENGER_TEXT_LIMIT), options, async (part, progress) => {
      const last = progress.failedPartIndex === progress.partCount - 1;
      const message = style && last ? messengerMessage(part, options.choices!, style) : { text: part };
      const body = { recipient: { id: recipientId }, ...type, message: { ...message, metadata: PLATFORM_SEND_METADATA } };
      const response = await this.#post(body, 'Messenger send', progress, options.signal);
      const id = (response as { message_id?: unknown } | null)?.message_id;
      if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'Messenger send', extraDetails: { ...progress } });
      return id;
    });
  }

  /**
   * Sends a file in one multipart request (the attachment uploaded with the message, `filedata`):
   * an image as `image`, anything else as `file`. Messenger attachments carry no caption; the text
   * goes before it as its own message.
   */
  async sendAttachment(recipientId: string, file: OutboundFile, options: { messageTag?: string; signal?: AbortSignal } = {}): Promise<string> {
    const form = new FormData();
    form.set('recipient', JSON.stringify({ id: recipientId }));
    form.set('messaging_type', options.messageTag ? 'MESSAGE_TAG' : 'RESPONSE');
    if (options.messageTag) form.set('tag', options.messageTag);
    form.set('message', JSON.stringify({ attachment: { type: file.kind === 'image' ? 'image' : 'file', payload: { is_reusable: false } } }));
    form.set('filedata', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename);
    const response = await postGraph({
      url: this.#url,
      accessToken: this.#pageAccessToken,
      body: form,
      timeoutMs: Math.max(this.#timeoutMs, 60_000),
      ...(options.signal && { signal: options.signal }),
      ctx: { operation: 'Messenger attachment send' },
    });
    const id = (response as { message_id?: unknown } | null)?.message_id;
    if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'Messenger attachment send' });
    return id;
  }

  /** Shows or hides "typing…", or marks the user's last message as seen. */
  async senderAction(recipientId: string, action: SenderAction, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#post({ recipient: { id: recipientId }, sender_action: action }, `Messenger ${action}`, undefined, options.signal);
  }

  #post(body: unknown, operation: string, extraDetails: object | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    return postGraph({
      url: this.#url,
      accessToken: this.#pageAccessToken,
      body,
      timeoutMs: this.#timeoutMs,
      ...(signal && { signal }),
      ctx: { operation, ...(extraDetails && { extraDetails: { ...extraDetails } }) },
    });
  }
}
