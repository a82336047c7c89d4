// Messenger Send API client: the calls a conversation makes on a tenant's Facebook Page.
// It does not retry: Temporal retries the activity around it, driven by the failure types from
// graph-errors.ts (transient, throttled with nextRetryDelay, permanent).
import { PLATFORM_SEND_METADATA } from '../../lib/graph-api.ts';
import type { ChoiceSet } from '../../workflows/types.ts';
import { choicesAsText, messengerMessage, messengerStyle } from './interactive.ts';
import { MESSENGER_TEXT_LIMIT, sendInParts, splitMessage, type SendTextOptions, type SendTextResult } from './split-message.ts';
import type { OutboundFile } from './outbound-file.ts';
import { SendApi, type SenderAction } from './send-api.ts';

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

export class MessengerClient {
  readonly #api: SendApi;

  constructor({ graphApiUrl, pageAccessToken, timeoutMs }: MessengerClientOptions) {
    // `me` is the Page the token belongs to, so the Page id is not needed here.
    this.#api = new SendApi({ graphApiUrl, node: 'me', pageAccessToken, label: 'Messenger', ...(timeoutMs !== undefined && { timeoutMs }) });
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
      return this.#api.send(body, 'Messenger send', { extraDetails: progress, signal: options.signal });
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
    return this.#api.send(form, 'Messenger attachment send', { signal: options.signal });
  }

  /** Shows or hides "typing…", or marks the user's last message as seen. */
  senderAction(recipientId: string, action: SenderAction, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#api.senderAction(recipientId, action, options);
  }
}
