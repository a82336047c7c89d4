// THE NAIVE DESIGN — for comparison in the benchmark only, never part of the platform.
//
// A WhatsApp webhook handler that does the whole job before answering Meta: verify the signature,
// call the LLM inline (a fake that takes 2 s), send the reply through the Graph API, and only
// then answer 200. It is given every advantage: no database, no channel lookup (one app secret
// from the environment), no logging, no validation beyond what it reads.
//
// Environment: PORT, APP_SECRET, ACCESS_TOKEN, LLM_URL (fake LLM), GRAPH_URL (fake Graph API base).
import Fastify from 'fastify';
import { parseSignatureHeader, SIGNATURE_HEADER, signatureMatches } from '../api/webhooks/signature.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const port = Number(env('PORT'));
const appSecret = env('APP_SECRET');
const accessToken = env('ACCESS_TOKEN');
const llmUrl = env('LLM_URL');
const graphUrl = env('GRAPH_URL');

interface Delivery {
  entry?: { changes?: { value?: { metadata?: { phone_number_id?: string }; messages?: { from?: string; text?: { body?: string } }[] } }[] }[];
}

const app = Fastify({ logger: false, forceCloseConnections: 'idle' });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

app.post('/webhooks/whatsapp', async (request, reply) => {
  const digest = parseSignatureHeader(request.headers[SIGNATURE_HEADER]);
  const raw = request.body as Buffer;
  if (!digest || !Buffer.isBuffer(raw) || !signatureMatches(raw, appSecret, digest)) return reply.code(401).send();
  const value = (JSON.parse(raw.toString('utf8')) as Delivery).entry?.[0]?.changes?.[0]?.value;
  const message = value?.messages?.[0];
  const phoneNumberId = value?.metadata?.phone_number_id;
  if (!message?.from || !phoneNumberId) return reply.code(200).send();

  // The LLM, inline: Meta's delivery waits for it.
  const llm = await fetch(llmUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question: message.text?.body ?? '' }) });
  const { text } = (await llm.json()) as { text: string };
  // The reply, inline too.
  const sent = await fetch(`${graphUrl}/${phoneNumberId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to: message.from, type: 'text', text: { body: text } }),
  });
  await sent.arrayBuffer();
  return reply.code(200).send();
});

app.get('/health', async () => 'ok');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
await app.listen({ host: '127.0.0.1', port });
