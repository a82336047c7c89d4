import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isInternalAddress,
  isInternalHost,
  refusedTenantUrl,
  TenantAddressRefusedError,
  TenantRedirectRefusedError,
  tenantDispatcher,
  tenantFetch,
  tenantUrl,
  type ResolveAll,
} from './tenant-urls.ts';

/** A resolver that maps test names to addresses, as a hostile DNS zone would. */
const mapped = (names: Record<string, string>): ResolveAll => async (hostname) => {
  const address = names[hostname];
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return [{ address, family: address.includes(':') ? 6 : 4 }];
};

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe('tenant URLs as written', () => {
  it('refuses internal names with trailing dots, and internal IPv6 and reserved ranges', () => {
    for (const h of [
      'localhost.', 'LOCALHOST..', 'metadata.google.internal.', 'printer.local.', 'router.home.arpa',
      '[::ffff:7f00:1]', '[::7f00:1]', '[2002:7f00:1::]', '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', '[fec0::1]', '[ff02::1]', '[64:ff9b:1::a00:1]',
      '0.0.0.0', '192.0.0.8', '224.0.0.251', '255.255.255.255', '100.127.255.254',
    ]) expect(isInternalHost(h), h).toBe(true);
    for (const h of ['example.com.', 'api.openai.com', '[2606:4700:4700::1111]', '1.1.1.1', '100.128.0.1', 'fcc.gov.']) expect(isInternalHost(h), h).toBe(false);
  });

  it('refuses what URL parsing turns into an internal address', () => {
    for (const u of ['https://localhost./x', 'https://0x7f.1/x', 'https://2130706433/x', 'https://[::ffff:127.0.0.1]/x', 'https://metadata.google.internal./']) {
      expect(tenantUrl(false).safeParse(u).success, u).toBe(false);
      expect(refusedTenantUrl(u, false), u).toMatch(/loopback, private or link-local/);
    }
    expect(refusedTenantUrl('https://hooks.example.com/x', false)).toBeUndefined();
    expect(refusedTenantUrl('http://127.0.0.1:1/x', true)).toBeUndefined();
  });

  it('knows addresses by range, not by spelling', () => {
    expect(isInternalAddress('::ffff:10.1.2.3')).toBe(true);
    expect(isInternalAddress('fd12:3456::1')).toBe(true);
    expect(isInternalAddress('169.254.169.254')).toBe(true);
    expect(isInternalAddress('8.8.8.8')).toBe(false);
    expect(isInternalAddress('not-an-address')).toBe(false);
  });
});

describe('tenant URLs at connect time', () => {
  let receiver: Awaited<ReturnType<typeof listen>>;
  let bouncer: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    receiver = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret'));
    bouncer = await listen((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${receiver.port}/latest/meta-data` }).end());
  });

  afterAll(async () => {
    await Promise.all([receiver, bouncer].map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
  });

  async function failure(p: Promise<unknown>): Promise<unknown> {
    try {
      await p;
    } catch (err) {
      return (err as { cause?: unknown }).cause ?? err;
    }
    throw new Error('expected the request to fail');
  }

  it('refuses a public-looking name that resolves to 127.0.0.1, before connecting', async () => {
    const dispatcher = tenantDispatcher({ allowInsecure: false, resolve: mapped({ 'hooks.rebind.example': '127.0.0.1' }) });
    const before = receiver.hits.length;
    const cause = await failure(fetch(`http://hooks.rebind.example:${receiver.port}/x`, { dispatcher } as RequestInit));
    expect(cause).toBeInstanceOf(TenantAddressRefusedError);
    expect(receiver.hits.length).toBe(before);
    await dispatcher.close();
  });

  it('refuses localhost. through the system resolver, and address literals that need no lookup', async () => {
    const dispatcher = tenantDispatcher({ allowInsecure: false });
    expect(await failure(fetch(`http://localhost.:${receiver.port}/x`, { dispatcher } as RequestInit))).toBeInstanceOf(TenantAddressRefusedError);
    expect(await failure(fetch(`http://127.0.0.1:${receiver.port}/x`, { dispatcher } as RequestInit))).toBeInstanceOf(TenantAddressRefusedError);
    expect(await failure(fetch(`http://[::ffff:127.0.0.1]:${receiver.port}/x`, { dispatcher } as RequestInit))).toBeInstanceOf(TenantAddressRefusedError);
    await dispatcher.close();
  });

  it('connects anywhere when insecure URLs are allowed (npm run dev, local receivers in tests)', async () => {
    const dispatcher = tenantDispatcher({ allowInsecure: true, resolve: mapped({ 'hooks.rebind.example': '127.0.0.1' }) });
    const res = await fetch(`http://hooks.rebind.example:${receiver.port}/x`, { dispatcher } as RequestInit);
    expect(await res.text()).toBe('internal secret');
    await dispatcher.close();
  });

  it('does not follow a redirect to an internal address', async () => {
    const dispatcher = tenantDispatcher({ allowInsecure: true });
    const before = receiver.hits.length;
    const cause = await failure(tenantFetch(dispatcher)(`http://127.0.0.1:${bouncer.port}/v1/chat/completions`, { method: 'POST', body: '{}' }));
    expect(cause).toBeInstanceOf(TenantRedirectRefusedError);
    expect(bouncer.hits).toHaveLength(1);
    expect(receiver.hits.length).toBe(before);
    await dispatcher.close();
  });
});
