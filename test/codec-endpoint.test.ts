// The remote codec endpoint the Temporal Web UI and CLI use to show operators the payloads the
// platform encrypts (api/routes/codec.ts), over HTTP with the app's real plugins.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptionCodec } from '../lib/payload-codec.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { connectTestTemporal } from './support/temporal.ts';

const UI = 'https://temporal-ui.example.com';

describe('codec endpoint', () => {
  let api: TestApi;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const text = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const plain = { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify({ text: 'Where is my order? +4915112345678' })) };

  beforeAll(async () => {
    api = await startTestApi('codec', { TEMPORAL_UI_ORIGIN: UI });
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (action: string, body: unknown, headers: Record<string, string> = bearer(api.adminKey)) =>
    api.app.inject({ method: 'POST', url: `/codec/${action}`, headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, payload: JSON.stringify(body) });

  it('encodes to ciphertext under the current key and decodes back, as the UI calls it', async () => {
    const encoded = await post('encode', { payloads: [plain] });
    expect(encoded.statusCode).toBe(200);
    expect(encoded.headers['cache-control']).toBe('no-store');
    const [sealed] = encoded.json().payloads;
    expect(text(sealed.metadata.encoding)).toBe('binary/encrypted');
    expect(text(sealed.metadata['encryption-key-id'])).toBe(api.config.SECRETS_KEYS[0]!.id);
    expect(text(sealed.data)).not.toContain('4915112345678');

    const decoded = await post('decode', { payloads: [sealed, plain] });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.json()).toEqual({ payloads: [plain, plain] });
  });

  it("decodes what the workers' codec encrypted", async () => {
    const [sealed] = await new EncryptionCodec(api.config.SECRETS_KEYS).encode([defaultPayloadConverter.toPayload({ phone: '4915112345678' })]);
    const res = await post('decode', { payloads: [{ metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') }] });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text(res.json().payloads[0].data))).toEqual({ phone: '4915112345678' });
  });

  it('answers 401 without the admin key, with a wrong one or a tenant key', async () => {
    for (const headers of [{}, bearer('x'.repeat(40)), bearer(`mcp_${'a'.repeat(12)}_${'b'.repeat(43)}`)]) {
      for (const action of ['decode', 'encode']) {
        const res = await post(action, { payloads: [plain] }, headers);
        expect(res.statusCode, `${action} with ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('answers 400 for a malformed body or a payload that does not decrypt', async () => {
    for (const body of [{}, { payloads: 'x' }, { payloads: [{ data: 'not base64!' }] }, { payloads: [{ metadata: { encoding: 7 } }] }]) {
      const res = await post('decode', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('validation_error');
    }
    const garbage = await api.app.inject({ method: 'POST', url: '/codec/decode', headers: { ...bearer(api.adminKey), 'content-type': 'application/json' }, payload: '{"payloads": [' });
    expect(garbage.statusCode).toBe(400);
    const [foreign] = await new EncryptionCodec([{ id: 'elsewhere', key: randomBytes(32) }]).encode([defaultPayloadConverter.toPayload('x')]);
    const res = await post('decode', { payloads: [{ metadata: Object.fromEntries(Object.entries(foreign!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(foreign!.data!).toString('base64') }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'undecryptable_payload', message: 'payload encrypted with key "elsewhere", which SECRETS_KEYS does not hold' });
  });

  it("answers 403 for another namespace's payloads", async () => {
    const res = await post('decode', { payloads: [plain] }, { ...bearer(api.adminKey), 'x-namespace': 'someone-else' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('namespace_not_served');
  });

  it('lets only TEMPORAL_UI_ORIGIN call it from a browser', async () => {
    const preflight = (origin: string) =>
      api.app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' } });
    const ok = await preflight(UI);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(UI);
    expect(String(ok.headers['access-control-allow-headers'])).toContain('x-namespace');
    const other = await preflight('https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const call = await post('decode', { payloads: [plain] }, { ...bearer(api.adminKey), origin: UI });
    expect(call.headers['access-control-allow-origin']).toBe(UI);
    const fromElsewhere = await post('decode', { payloads: [plain] }, { ...bearer(api.adminKey), origin: 'https://evil.example.com' });
    expect(fromElsewhere.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("works as the Temporal CLI's --codec-endpoint: it encrypts a workflow's input and shows it decrypted", async () => {
    const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = (...args: string[]) =>
      promisify(execFile)(inject('temporalCliPath'), [...args, '--address', inject('temporalAddress'), '--namespace', 'default', '--codec-endpoint', `${url}/codec`, '--codec-auth', `Bearer ${api.adminKey}`]);
    const workflowId = `codec-cli-${randomBytes(4).toString('hex')}`;
    await cli('workflow', 'start', '--type', 'nothingPollsThis', '--task-queue', `codec-cli-${randomBytes(4).toString('hex')}`, '--workflow-id', workflowId, '--input', '{"text":"+4915112345678 asks"}');
    const temporal = await connectTestTemporal();
    try {
      const handle = temporal.client.workflow.getHandle(workflowId);
      const input = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
      expect(Buffer.from(input?.data ?? []).toString()).not.toContain('4915112345678');
      const [plainInput] = await new EncryptionCodec(api.config.SECRETS_KEYS).decode([input as never]);
      expect(defaultPayloadConverter.fromPayload(plainInput!)).toEqual({ text: '+4915112345678 asks' });
      const { stdout } = await cli('workflow', 'show', '--workflow-id', workflowId, '--output', 'json');
      // Proto JSON: the decoded payload's bytes in base64.
      expect(stdout).toContain(`"encoding": "${b64('json/plain')}"`);
      expect(stdout).toContain(`"data": "${b64('{"text":"+4915112345678 asks"}')}"`);
      expect(stdout).not.toContain(b64('binary/encrypted'));
      await handle.terminate('test over');
    } finally {
      await temporal.close();
    }
  });

  it('is in the OpenAPI document with every status it answers', async () => {
    const doc = api.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    for (const action of ['decode', 'encode']) {
      expect(Object.keys(doc.paths[`/codec/${action}`]?.post?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '413', '415', '429']);
    }
  });
});
