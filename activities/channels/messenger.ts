// Messenger Send API client: the calls a conversation makes on a tenant's Facebook Page.
// It does not retry: Temporal retries the activity around it, driven by the failure types from
// graph-errors.ts (transient, throttled with nextRetryDelay, permanent).
import { DEFAULT_GRAPH_TIMEOUT_MS, postGraph, unreadableSuccessFailure } from './graph-errors.ts';
import { MESSENGER_TEXT_LIMIT, sendInParts, splitMessage, type SendTextOptions, type SendTextResult } from './split-message.ts';

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
  sendText(recipientId: string, text: string, options: SendTextOptions = {}): Promise<SendTextResult> {
    return sendInParts(splitMessage(text, MESSENGER_TEXT_LIMIT), options, async (part, progress) => {
      // RESPONSE: a reply to a message the user sent, allowed within the 24-hour window.
      const body = { recipient: { id: recipientId }, messaging_type: 'RESPONSE', message: { text: part } };
      const response = await this.#post(body, 'Messenger send', progress, options.signal);
      const id = (response as { message_id?: unknown } | null)?.message_id;
      if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation: 'Messenger send', extraDetails: { ...progress } });
      return id;
    });
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
