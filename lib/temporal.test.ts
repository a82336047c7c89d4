// Connecting to a secured Temporal: the variables are validated, the options built from them,
// and both the client connection (API, scripts) and the worker's native connection really talk
// TLS and mTLS. The dev server has no TLS flags, so a TLS terminator in front of it stands in for
// a secured cluster: certificates made here with openssl, client certificates required.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { connectClientConnection, connectWorkerConnection, temporalConnectionOptions } from './temporal.ts';

const base = {
  DATABASE_URL: 'postgresql://app@db.internal:5432/metachat',
  ADMIN_API_KEY: 'a'.repeat(40),
  SECRETS_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

function problems(env: Record<string, string>): string[] {
  try {
    temporalConnectionOptions(loadConfig({ ...base, ...env }));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
const file = (name: string) => join(dir, name);

function openssl(...args: string[]) {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A CA, a server certificate for temporal.test signed by it, and a client certificate signed by it. */
function makeCertificates() {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  for (const [name, cn, ext] of [
    ['server', 'temporal.test', 'subjectAltName=DNS:temporal.test\nextendedKeyUsage=serverAuth'],
    ['client', 'metachat-worker', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
  }
  writeFileSync(file('not-pem.txt'), 'hello');
}

beforeAll(makeCertificates);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Temporal connection options', () => {
  it('connect in plaintext when nothing asks for TLS', () => {
    expect(temporalConnectionOptions(loadConfig(base))).toEqual({ address: '127.0.0.1:7233' });
  });

  it('use TLS with the system roots for TEMPORAL_TLS=true, and for an API key (Temporal Cloud)', () => {
    expect(temporalConnectionOptions(loadConfig({ ...base, TEMPORAL_TLS: 'true' }))).toEqual({ address: '127.0.0.1:7233', tls: {} });
    expect(temporalConnectionOptions(loadConfig({ ...base, TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'tmprl_key' }))).toEqual({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: 'tmprl_key',
    });
  });

  it('read the CA, the client certificate pair and the server name for mTLS', () => {
    const options = temporalConnectionOptions(
      loadConfig({ ...base, TEMPORAL_TLS_CA_FILE: file('ca.pem'), TEMPORAL_TLS_CERT_FILE: file('client.pem'), TEMPORAL_TLS_KEY_FILE: file('client.key'), TEMPORAL_TLS_SERVER_NAME: 'temporal.test' }),
    );
    expect(options.tls?.serverNameOverride).toBe('temporal.test');
    expect(Buffer.from(options.tls!.serverRootCACertificate!).equals(readFileSync(file('ca.pem')))).toBe(true);
    expect(Buffer.from(options.tls!.clientCertPair!.crt).equals(readFileSync(file('client.pem')))).toBe(true);
    expect(Buffer.from(options.tls!.clientCertPair!.key).equals(readFileSync(file('client.key')))).toBe(true);
  });

  it('name every bad variable', () => {
    expect(problems({ TEMPORAL_TLS_CERT_FILE: file('client.pem') })).toEqual([expect.stringMatching(/^TEMPORAL_TLS_KEY_FILE: is required with TEMPORAL_TLS_CERT_FILE/)]);
    expect(problems({ TEMPORAL_TLS_KEY_FILE: file('client.key') })).toEqual([expect.stringMatching(/^TEMPORAL_TLS_CERT_FILE: is required/)]);
    expect(problems({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA_FILE: file('ca.pem'), TEMPORAL_API_KEY: 'k' })).toEqual([
      'TEMPORAL_TLS_CA_FILE: is set but TEMPORAL_TLS is false',
      'TEMPORAL_API_KEY: would be sent in the clear: TEMPORAL_TLS is false',
    ]);
    expect(problems({ TEMPORAL_TLS: 'yes' })).toEqual([expect.stringMatching(/^TEMPORAL_TLS: /)]);
    expect(problems({ TEMPORAL_TLS_SERVER_NAME: 'not a host' })).toEqual(['TEMPORAL_TLS_SERVER_NAME: must be a host name']);
    expect(problems({ TEMPORAL_TLS_CA_FILE: file('missing.pem'), TEMPORAL_TLS_CERT_FILE: file('not-pem.txt'), TEMPORAL_TLS_KEY_FILE: file('client.key') })).toEqual([
      `TEMPORAL_TLS_CA_FILE: cannot read "${file('missing.pem')}" (ENOENT)`,
      `TEMPORAL_TLS_CERT_FILE: "${file('not-pem.txt')}" is not a PEM file`,
    ]);
  });

  it('accept TEMPORAL_UI_ORIGIN as an origin only', () => {
    expect(loadConfig({ ...base, TEMPORAL_UI_ORIGIN: 'https://temporal.example.com/' }).TEMPORAL_UI_ORIGIN).toBe('https://temporal.example.com');
    expect(() => loadConfig({ ...base, TEMPORAL_UI_ORIGIN: 'https://temporal.example.com/ui' })).toThrow(/TEMPORAL_UI_ORIGIN: must be an origin/);
    expect(() => loadConfig({ ...base, TEMPORAL_UI_ORIGIN: 'temporal.example.com' })).toThrow(/TEMPORAL_UI_ORIGIN: must be an origin/);
  });
});

describe('a secured Temporal (TLS terminator with client certificates in front of the dev server)', () => {
  let server: Server;
  let address: string;
  const sockets = new Set<Socket>();
  const handshakes: { authorized: boolean; subject?: string }[] = [];

  beforeAll(async () => {
    const [host, port] = inject('temporalAddress').split(':');
    server = createServer(
      {
        key: readFileSync(file('server.key')),
        cert: readFileSync(file('server.pem')),
        ca: readFileSync(file('ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (tlsSocket: TLSSocket) => {
        handshakes.push({ authorized: tlsSocket.authorized, subject: String(tlsSocket.getPeerCertificate().subject?.CN) });
        const upstream = connect(Number(port), host);
        sockets.add(tlsSocket).add(upstream);
        tlsSocket.pipe(upstream).pipe(tlsSocket);
        const end = () => {
          tlsSocket.destroy();
          upstream.destroy();
        };
        tlsSocket.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const listening = server.address();
    address = `127.0.0.1:${typeof listening === 'object' && listening ? listening.port : 0}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  const mtls = () =>
    loadConfig({
      ...base,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TLS_CA_FILE: file('ca.pem'),
      TEMPORAL_TLS_CERT_FILE: file('client.pem'),
      TEMPORAL_TLS_KEY_FILE: file('client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    });

  // The same options serve the API's and scripts' client connection and the worker's native one.
  it.each([
    ['the client connection (API, scripts)', connectClientConnection],
    ["the worker's native connection", connectWorkerConnection],
  ] as const)('%s answers over mTLS', async (_name, connect) => {
    const connection = await connect(mtls());
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.capabilities).toBeDefined();
    } finally {
      await connection.close();
    }
    expect(handshakes.at(-1)).toEqual({ authorized: true, subject: 'metachat-worker' });
  });

  it('fails without the client certificate, and against a server its CA did not sign', async () => {
    const noClientCert = loadConfig({ ...base, TEMPORAL_ADDRESS: address, TEMPORAL_TLS_CA_FILE: file('ca.pem'), TEMPORAL_TLS_SERVER_NAME: 'temporal.test' });
    await expect(
      (async () => {
        const c = await connectClientConnection(noClientCert, { connectTimeout: 3000 });
        try {
          await c.withDeadline(Date.now() + 3000, () => c.workflowService.getSystemInfo({}));
        } finally {
          await c.close();
        }
      })(),
    ).rejects.toThrow();
    // System roots only: the test CA is not trusted.
    const untrusted = loadConfig({ ...base, TEMPORAL_ADDRESS: address, TEMPORAL_TLS_CERT_FILE: file('client.pem'), TEMPORAL_TLS_KEY_FILE: file('client.key'), TEMPORAL_TLS_SERVER_NAME: 'temporal.test' });
    await expect(connectWorkerConnection(untrusted)).rejects.toThrow();
  });
});
