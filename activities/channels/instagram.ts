// The Messenger Platform's Instagram API: the calls a conversation makes on a tenant's Instagram
// professional account, through the Facebook Page it is linked to (`POST /{page-id}/messages`
// with the Page's token, the recipient by Instagram-scoped id). Like MessengerClient it does not
// retry: Temporal retries the activity around it (graph-errors.ts).
import type { ChoiceSet } from '../../workflows/types.ts';
import { unreadableSuccessFailure } from './graph-errors.ts';
import { choicesAsText } from './interactive.ts';
import type { OutboundFile } from './outbound-file.ts';
import { SendApi, type SenderAction } from './send-api.ts';
import { INSTAGRAM_TEXT_LIMIT_BYTES, sendInParts, splitMessageUtf8, type SendTextOptions, type SendTextResult } from './split-message.ts';

export interface InstagramClientOptions {
  /** META_GRAPH_API_URL, e.g. https://graph.facebook.com/v21.0 */
  graphApiUrl: string;
  /** The Facebook Page the Instagram account is linked to. */
  pageId: string;
  pageAccessToken: string;
  timeoutMs?: number;
}

export interface InstagramSendOptions extends SendTextOptions {
  /** Offered as numbered lines after the text. */
  choices?: ChoiceSet;
  /** HUMAN_AGENT: a person's reply after the 24-hour window (up to 7 days after the user's last message). */
  tag?: 'HUMAN_AGENT';
}

export type InstagramAttachmentType = 'image' | 'video' | 'audio' | 'file';

/** How Instagram shows a file: api/outbound-attachments.ts lets through only the types it takes. */
export function instagramAttachmentType(file: Pick<OutboundFile, 'kind' | 'mimeType'>): InstagramAttachmentType {
  if (file.kind === 'image') return 'image';
  if (file.mimeType.startsWith('video/')) return 'video';
  if (file.mimeType.startsWith('audio/')) return 'audio';
  return 'file';
}

export class InstagramClient {
  readonly #api: SendApi;

  constructor({ graphApiUrl, pageId, pageAccessToken, timeoutMs }: InstagramClientOptions) {
    this.#api = new SendApi({ graphApiUrl, node: pageId, pageAccessToken, label: 'Instagram', ...(timeoutMs !== undefined && { timeoutMs }) });
  }

  /**
   * Replies to the user `recipientId` (an Instagram-scoped id), split into parts of at most 1000
   * bytes sent in order; failures carry PartialSendDetails as MessengerClient's do.
   */
  sendText(recipientId: string, text: string, options: InstagramSendOptions = {}): Promise<SendTextResult> {
    const full = options.choices ? choicesAsText(text, options.choices) : text;
    return sendInParts(splitMessageUtf8(full, INSTAGRAM_TEXT_LIMIT_BYTES), options, (part, progress) =>
      this.#api.send({ recipient: { id: recipientId }, ...messagingType(options.tag), message: { text: part } }, 'Instagram send', { extraDetails: progress, signal: options.signal }),
    );
  }

  /**
   * Sends a file in two steps, as Meta's Attachment Upload API for Instagram has it: the bytes go
   * to `/{page-id}/message_attachments` (multipart `filedata`, `platform=instagram`), whose
   * `attachment_id` the message then names. Instagram attachments carry no caption: the text goes
   * before it as its own message. A retry uploads again; only the message is seen by the user.
   */
  async sendAttachment(recipientId: string, file: OutboundFile, options: { messageTag?: string; signal?: AbortSignal } = {}): Promise<string> {
    const type = instagramAttachmentType(file);
    const form = new FormData();
    form.set('platform', 'instagram');
    form.set('message', JSON.stringify({ attachment: { type, payload: { is_reusable: false } } }));
    form.set('filedata', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename);
    const uploaded = await this.#api.post('message_attachments', form, 'Instagram attachment upload', { signal: options.signal });
    const attachmentId = (uploaded as { attachment_id?: unknown } | null)?.attachment_id;
    if (typeof attachmentId !== 'string' || !attachmentId) throw unreadableSuccessFailure(200, { operation: 'Instagram attachment upload' });
    const tag = options.messageTag === 'HUMAN_AGENT' ? options.messageTag : undefined;
    const body = { recipient: { id: recipientId }, ...messagingType(tag), message: { attachment: { type, payload: { attachment_id: attachmentId } } } };
    return this.#api.send(body, 'Instagram attachment send', { signal: options.signal });
  }

  /** Shows or hides "typing…", or marks the user's last message as seen. */
  senderAction(recipientId: string, action: SenderAction, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#api.senderAction(recipientId, action, options);
  }
}

/** Within the 24-hour window no messaging_type is needed; after it only a person's tagged reply is allowed. */
const messagingType = (tag: 'HUMAN_AGENT' | undefined) => (tag ? { messaging_type: 'MESSAGE_TAG', tag } : {});
