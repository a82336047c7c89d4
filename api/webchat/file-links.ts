// Files sent to a web chat visitor (the assistant's send_file, an agent's attachment), as links:
// a message frame carries a URL signed for that one message's file, valid for LINK_TTL_MS, so that
// the widget's <img> and <a download> fetch it with no credential of their own (the visitor token
// never goes into a URL, where logs and browser history would keep it). A replay after a reconnect
// signs afresh. `GET /webchat/files/:messageId?t=&at=&exp=&sig=` serves the bytes.
//
// The signature is HMAC-SHA256 under a key derived (HKDF) from the current SECRETS_KEYS key, with
// a label of its own; links signed under a key no longer listed stop working.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signingKeys, type Keyring } from '../../lib/crypto.ts';
import { createDocumentStorage, StoredFileNotFoundError } from '../../lib/storage.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import type { OutboundAttachment } from '../../workflows/types.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { errorBody } from '../schemas/common.ts';

const HKDF_INFO = 'metachat webchat file link v1';
export const LINK_TTL_MS = 24 * 3600_000;

interface LinkedMessage {
  tenantId: string;
  id: string;
  createdAt: Date;
}

export class FileLinks {
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;
  readonly #now: () => number;

  constructor(keyring: Keyring, now: () => number = Date.now) {
    ({ keys: this.#keys, current: this.#current } = signingKeys(keyring, HKDF_INFO));
    this.#now = now;
  }

  /** The path of the message's file, signed until LINK_TTL_MS from now. */
  url(message: LinkedMessage): string {
    const exp = Math.floor((this.#now() + LINK_TTL_MS) / 1000);
    const at = message.createdAt.getTime();
    const sig = `${this.#current}.${this.#sign(this.#current, message.tenantId, message.id, at, exp)}`;
    return `/webchat/files/${message.id}?${new URLSearchParams({ t: message.tenantId, at: String(at), exp: String(exp), sig })}`;
  }

  /** Whether the link's signature holds and it has not expired. */
  verify(message: LinkedMessage, exp: number, sig: string): boolean {
    if (exp * 1000 < this.#now()) return false;
    const dot = sig.indexOf('.');
    const keyId = sig.slice(0, dot);
    if (dot < 1 || !this.#keys.has(keyId)) return false;
    const expected = Buffer.from(this.#sign(keyId, message.tenantId, message.id, message.createdAt.getTime(), exp));
    const given = Buffer.from(sig.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #sign(keyId: string, tenantId: string, id: string, at: number, exp: number): string {
    return createHmac('sha256', this.#keys.get(keyId)!).update(`${tenantId}.${id}.${at}.${exp}`).digest('base64url');
  }
}

/** `filename="…"` with a plain-ASCII fallback, and `filename*` for the real name (RFC 6266). */
function disposition(kind: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export const fileRoutes: FastifyPluginAsyncZod<{ links: FileLinks }> = async (app, { links }) => {
  const storage = createDocumentStorage(app.config);
  app.get(
    '/files/:messageId',
    {
      schema: {
        tags: ['webchat'],
        summary: "The file of a message sent to a web chat visitor, by the signed link in the message's frame",
        description: '404 not_found: the link is not valid (wrong or expired signature), or names no message with a file, or the file is no longer stored.',
        params: z.object({ messageId: z.uuid() }),
        querystring: z.object({
          t: z.uuid().describe('The tenant'),
          at: z.coerce.number().int().nonnegative().describe("The message's creation time (ms)"),
          exp: z.coerce.number().int().nonnegative().describe('Expiry (unix seconds)'),
          sig: z.string().min(1).max(200),
        }),
        response: {
          200: { description: "The file's bytes", content: { '*/*': { schema: z.string().meta({ format: 'binary' }) } } },
          400: errorBody,
          404: errorBody,
        },
      },
    },
    async (request, reply) => {
      const { t, at, exp, sig } = request.query;
      const message = { tenantId: t, id: request.params.messageId, createdAt: new Date(at) };
      const notFound = new HttpError(404, 'not_found', 'No such file, or the link has expired');
      if (!links.verify(message, exp, sig)) throw notFound;
      const row = await forTenant(app.db, t).message.findFirst({ where: { id: message.id, createdAt: message.createdAt, direction: 'outbound' }, select: { content: true } });
      const file = (row?.content as { attachment?: OutboundAttachment } | null)?.attachment;
      if (!file) throw notFound;
      let bytes: Buffer;
      try {
        bytes = await storage.get(file.key);
      } catch (err) {
        if (err instanceof StoredFileNotFoundError) throw notFound;
        throw err;
      }
      return reply
        .header('content-type', file.mimeType)
        .header('content-disposition', disposition(file.kind === 'image' ? 'inline' : 'attachment', file.filename))
        .header('x-content-type-options', 'nosniff')
        // A tenant's HTML document opened from the link runs nothing on this origin.
        .header('content-security-policy', 'sandbox')
        .header('cache-control', 'private, max-age=300')
        .send(bytes as unknown as string);
    },
  );
};
