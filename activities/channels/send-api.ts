// The Messenger Platform's Send API, which Messenger and Instagram both speak: JSON or multipart
// posts to one page's endpoint with the page token, sender actions, and the `message_id` a send
// answers. MessengerClient and InstagramClient build their messages on it; like them it does not
// retry (Temporal retries the activity around it, graph-errors.ts).
import { DEFAULT_GRAPH_TIMEOUT_MS, postGraph, unreadableSuccessFailure } from './graph-errors.ts';

export type SenderAction = 'typing_on' | 'typing_off' | 'mark_seen';

/** A file upload may take longer than a text send. */
const UPLOAD_TIMEOUT_MS = 60_000;

export class SendApi {
  readonly #base: string;
  readonly #pageAccessToken: string;
  readonly #timeoutMs: number;
  /** Names the platform in failures and sender-action operations ("Messenger", "Instagram"). */
  readonly label: string;

  /** `node`: the page (`me` when the token's own page is meant) whose edges are posted to. */
  constructor(options: { graphApiUrl: string; node: string; pageAccessToken: string; label: string; timeoutMs?: number }) {
    this.#base = `${options.graphApiUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.node)}`;
    this.#pageAccessToken = options.pageAccessToken;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_GRAPH_TIMEOUT_MS;
    this.label = options.label;
  }

  /** Shows or hides "typing…", or marks the user's last message as seen. */
  async senderAction(recipientId: string, action: SenderAction, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.post('messages', { recipient: { id: recipientId }, sender_action: action }, `${this.label} ${action}`, { signal: options.signal });
  }

  /** Posts a message and answers the `message_id` Meta gave it. */
  async send(body: unknown, operation: string, options: { extraDetails?: object | undefined; signal?: AbortSignal | undefined } = {}): Promise<string> {
    const response = await this.post('messages', body, operation, options);
    const id = (response as { message_id?: unknown } | null)?.message_id;
    if (typeof id !== 'string' || !id) throw unreadableSuccessFailure(200, { operation, ...(options.extraDetails && { extraDetails: { ...options.extraDetails } }) });
    return id;
  }

  /** A POST to one of the page's edges (`messages`, `message_attachments`); a FormData goes multipart. */
  post(edge: string, body: unknown, operation: string, options: { extraDetails?: object | undefined; signal?: AbortSignal | undefined } = {}): Promise<unknown> {
    return postGraph({
      url: `${this.#base}/${edge}`,
      accessToken: this.#pageAccessToken,
      body,
      timeoutMs: body instanceof FormData ? Math.max(this.#timeoutMs, UPLOAD_TIMEOUT_MS) : this.#timeoutMs,
      ...(options.signal && { signal: options.signal }),
      ctx: { operation, ...(options.extraDetails && { extraDetails: { ...options.extraDetails } }) },
    });
  }
}
