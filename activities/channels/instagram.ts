// The Messenger Platform's Instagram API: the calls a conversation makes on a tenant's Instagram
// professional account, through the Facebook Page it is linked to (`POST /{page-id}/messages`
// with the Page's token, the recipient by Instagram-scoped id). Like MessengerClient it does not
// retry: Temporal retries the activity around it (graph-errors.ts).
import type { ChoiceSet } from '../../workflows/types.ts';
import { DEFAULT_GRAPH_TIMEOUT_MS, postGraph, unreadableSuccessFailure } from './graph-errors.ts';
import { choicesAsText } from './interactive.ts';
import type { SenderAction } from './messenger.ts';
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

export class InstagramClient {
  readonly #url: string;
  readonly #pageAccessToken: string;
  readonly #timeoutMs: number;

  constructor({ graphApiUrl, pageId, pageAccessToken, timeoutMs = DEFAULT_GRAPH_TIMEOUT_MS }: InstagramClientOptions) {
    this.#url = `${graphApiUrl.replace(/\/+$/, '')}/${encodeURIComponent(pageId)}/messages`;
    this.#pageAccessToken = pageAccessToken;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Replies to the user `recipientId` (an Instagram-scoped id), split into parts of at most 1000
   * bytes sent in order; failures carry PartialSendDetails as MessengerClient's do.
   */
  sendText(recipientId: string, text: string, options: InstagramSendOptions = {}): Promise<SendTextResult> {
    const full = options.choices ? choicesAsText(text, options.choices) : text;
    // Within the 24-hour window no messaging_type is needed; after it only a person's tagged reply is allowed.
    const type = options.tag ? { messaging_type: 'MESSAGE_TAG', tag: options.tag } : {};
    return sendInParts(splitMessageUtf8(full, INSTAGRAM_TEXT_LIMIT_BYTES), options, async (part, progress) => {
      const response = await this.#post({ recipient: { id: recipientId }, ...type, message: { text: part } }, 'Instagram send', progress, options.signal);
      const id = (response as { message_id?: unknown } | null)?.message_id;
      if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'Instagram send', extraDetails: { ...progress } });
      return id;
    });
  }

  /** Shows or hides "typing…", or marks the user's last message as seen. */
  async senderAction(recipientId: string, action: SenderAction, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#post({ recipient: { id: recipientId }, sender_action: action }, `Instagram ${action}`, undefined, options.signal);
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
