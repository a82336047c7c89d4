// Types for the parts of `ws` (the WebSocket library under @fastify/websocket) this project uses.
// The package ships no types of its own and @types/ws is not a dependency; this declaration is
// what @fastify/websocket's own types resolve `ws` to as well.
declare module 'ws' {
  import { EventEmitter } from 'node:events';
  import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

  export type RawData = Buffer | ArrayBuffer | Buffer[];

  export interface ClientOptions {
    origin?: string;
    headers?: OutgoingHttpHeaders;
    maxPayload?: number;
    handshakeTimeout?: number;
  }

  export interface ServerOptions {
    maxPayload?: number;
    clientTracking?: boolean;
    perMessageDeflate?: boolean;
    noServer?: boolean;
  }

  export class WebSocket extends EventEmitter {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    constructor(address: string | URL, options?: ClientOptions);
    constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions);
    readonly readyState: 0 | 1 | 2 | 3;
    readonly protocol: string;
    send(data: string | Buffer, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string | Buffer): void;
    ping(data?: unknown, mask?: boolean, cb?: (err: Error) => void): void;
    terminate(): void;
    on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): this;
    on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'open' | 'ping' | 'pong', listener: (...args: unknown[]) => void): this;
    on(event: 'unexpected-response', listener: (request: unknown, response: IncomingMessage) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    once(event: 'close', listener: (code: number, reason: Buffer) => void): this;
    once(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options?: ServerOptions, callback?: () => void);
    readonly clients: Set<WebSocket>;
    close(cb?: (err?: Error) => void): void;
  }
  export { WebSocketServer as Server };

  export default WebSocket;
}
