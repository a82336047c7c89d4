// Temporal's remote codec protocol, so that the Temporal Web UI (and `temporal` CLI with
// `--codec-endpoint`) show operators the payloads the platform encrypts (lib/payload-codec.ts):
// `POST /codec/decode` and `POST /codec/encode`, each `{ "payloads": [ { "metadata": { k: base64 },
// "data": base64 } ] }` in and out (a temporal.api.common.v1.Payload in proto JSON).
//
// - Operators only: `Authorization: Bearer <ADMIN_API_KEY>`, checked before the body is read;
//   anything else is 401.
// - `X-Namespace`, which the UI sends, must be the platform's TEMPORAL_NAMESPACE (403 otherwise):
//   the endpoint decrypts this platform's payloads, not whatever another namespace holds.
// - CORS lets exactly one browser origin call it, TEMPORAL_UI_ORIGIN (none when unset), with the
//   headers the UI sends; every other route's CORS rules do not apply here.
// - Decoded payloads are plaintext conversations: `Cache-Control: no-store`, never logged.
import type { FastifyCorsOptions } from '@fastify/cors';
import type { Payload } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EncryptionCodec, PayloadDecryptionError } from '../../lib/payload-codec.ts';
import { HttpError } from '../plugins/app/errors.ts';
import { errorBody } from '../schemas/common.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route's own CORS rules, merged over the app's by @fastify/cors (which reads but does not type it). */
    cors?: false | Omit<FastifyCorsOptions, 'hook' | 'delegator'>;
  }
}

/** A payload in proto JSON: bytes as base64. */
const payloadJson = z
  .object({
    metadata: z.record(z.string().min(1).max(256), z.base64()).optional().describe('Metadata values, base64'),
    data: z.base64().optional().describe('The payload bytes, base64'),
  })
  .describe('A temporal.api.common.v1.Payload in proto JSON');

const payloadsBody = z.object({ payloads: z.array(payloadJson).max(10_000) });

/** The UI sends a whole event's payloads at once; Temporal's own limit is 2 MB per payload. */
const BODY_LIMIT = 8 * 1024 * 1024;

const fromJson = (p: z.infer<typeof payloadJson>): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): z.infer<typeof payloadJson> => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const codecRoutes: FastifyPluginAsyncZod = async (app) => {
  const codec = new EncryptionCodec(app.config.SECRETS_KEYS);
  const namespace = app.config.TEMPORAL_NAMESPACE;
  const uiOrigin = app.config.TEMPORAL_UI_ORIGIN;
  const cors = {
    origin: uiOrigin ? [uiOrigin] : false,
    methods: ['POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-namespace'],
    // The UI may be told to send cookies (TEMPORAL_CODEC_INCLUDE_CREDENTIALS) to an authenticating
    // proxy in front of this endpoint; the endpoint itself reads only the bearer header.
    credentials: true,
    maxAge: 600,
  };

  for (const [action, summary, transform] of [
    ['decode', 'Decrypt Temporal payloads (for the Temporal Web UI and CLI)', async (payloads: Payload[]) => codec.decode(payloads)],
    ['encode', 'Encrypt Temporal payloads (for the Temporal Web UI and CLI)', async (payloads: Payload[]) => codec.encode(payloads)],
  ] as const) {
    app.post(
      `/${action}`,
      {
        bodyLimit: BODY_LIMIT,
        config: { cors },
        onRequest: app.authenticateAdmin,
        schema: {
          tags: ['codec'],
          summary,
          description:
            "Temporal's remote codec protocol. Point the Temporal Web UI's codec endpoint (or `temporal --codec-endpoint`) at `/codec`; " +
            'send `Authorization: Bearer <ADMIN_API_KEY>`. Payloads not encrypted by the platform decode unchanged.',
          security: [{ bearer: [] }],
          headers: z.looseObject({ 'x-namespace': z.string().optional().describe(`The namespace the payloads come from; must be the platform's`) }),
          body: payloadsBody,
          response: {
            200: payloadsBody,
            400: errorBody.describe('Malformed body, or a payload that does not decrypt with any key of SECRETS_KEYS'),
            401: errorBody.describe('No or wrong admin key'),
            403: errorBody.describe('X-Namespace names another namespace'),
            413: errorBody.describe('Body over 8 MiB'),
            415: errorBody.describe('Not application/json'),
            429: errorBody.describe('Rate limited'),
          },
        },
      },
      async (request, reply) => {
        const asked = request.headers['x-namespace'];
        if (asked !== undefined && asked !== namespace) {
          throw new HttpError(403, 'namespace_not_served', `This endpoint encodes payloads of namespace "${namespace}" only`);
        }
        let payloads: Payload[];
        try {
          payloads = await transform(request.body.payloads.map(fromJson));
        } catch (err) {
          if (!(err instanceof PayloadDecryptionError)) throw err;
          throw new HttpError(400, 'undecryptable_payload', err.message);
        }
        reply.header('cache-control', 'no-store');
        return { payloads: payloads.map(toJson) };
      },
    );
    // The browser's preflight: answered by the CORS hook for TEMPORAL_UI_ORIGIN, not found otherwise.
    app.options(`/${action}`, { config: { cors }, schema: { hide: true } }, async (request, reply) => reply.callNotFound());
  }
};

export default codecRoutes;
