// Web chat visitors as the tests drive them: a visitor token from POST /webchat/visitors, and a
// socket that keeps every frame it was sent, in order, and how it closed.
import { WebSocket } from 'ws';
import { eventually } from './conversations.ts';

export type Frame = { type: string; [key: string]: unknown };

/** A visitor's socket as a test drives it: every frame kept in order, and how it closed. */
export class Visitor {
  readonly frames: Frame[] = [];
  closedWith: { code: number; reason: string } | undefined;
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
    });
    ws.on('error', () => undefined);
  }

  /** `headers`: more upgrade request headers (X-Forwarded-For, for a client IP behind TRUST_PROXY). */
  static async connect(base: string, params: Record<string, string>, origin: string | null, headers: Record<string, string> = {}): Promise<Visitor> {
    const url = `${base.replace(/^http/, 'ws')}/webchat?${new URLSearchParams(params)}`;
    const ws = new WebSocket(url, { ...(origin && { origin }), headers });
    const visitor = new Visitor(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return visitor;
  }

  send(frame: unknown): void {
    this.#ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (at or after `from`) that matches. */
  async next(match: (f: Frame) => boolean, what: string, from = 0): Promise<Frame> {
    return eventually(() => this.frames.slice(from).find(match), 30_000, what);
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message');
  }

  async closed(): Promise<{ code: number; reason: string }> {
    return eventually(() => this.closedWith, 10_000, 'socket closed');
  }

  /** Round trip: every frame the server sent before the pong is in `frames` once this returns. */
  async sync(): Promise<void> {
    const from = this.frames.length;
    this.send({ type: 'ping' });
    await this.next((f) => f.type === 'pong', 'pong', from);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.#ws.close(1000);
    return this.closed();
  }
}

/** POST /webchat/visitors as the widget page sends it (from `origin`). */
export async function requestVisitor(base: string, widgetId: string, origin: string | null = base, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/webchat/visitors`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin && { origin }), ...headers },
    body: JSON.stringify({ widgetId }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { token: string; visitorId: string; expiresAt: string; error: { code: string; message: string } } };
}
