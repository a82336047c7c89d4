// Every URL a tenant makes the platform call: function endpoints, webhook endpoints and the base
// URL of a tenant's own model provider. Two checks, one list of ranges:
//
// - At registration, on the URL as written (`tenantUrl`, `tenantLlmBaseUrl`): https only, no
//   credentials, no internal name (`localhost`, `*.internal`, ...) and no internal address
//   literal. Trailing dots are ignored (`localhost.` is `localhost`).
// - At connect time, on the address actually dialled (`tenantDispatcher`): an undici Agent whose
//   connector resolves the name with dns.lookup (all addresses) and refuses the connection when
//   any of them is internal, and refuses internal address literals (which Node connects to
//   without a lookup). A public name that resolves to 10.0.0.5, or re-resolves there later (DNS
//   rebinding), is refused where it matters. Redirects are never followed (`tenantFetch`).
//
// What the tenant is told when a call fails is one message for every network failure (refused
// address, connection refused, reset, DNS failure, timeout): `UNREACHABLE`. Which one it was is
// logged at debug level only, so a delivery log or a function's tool result cannot be used to
// map the platform's network.
//
// ALLOW_INSECURE_TENANT_URLS (development, and tests with receivers on 127.0.0.1) turns both
// checks off: http:// and any address are accepted.
//
// The npm `undici` is pinned to the version Node 20 bundles (`process.versions.undici`), so Node's
// global fetch, which the SDKs use too, takes its Agent as `dispatcher`: move it with Node.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { z } from 'zod';

/** What a tenant is told of any failure to reach its URL. */
export const UNREACHABLE = 'could not be reached (no connection, or no answer in time)';

/**
 * Addresses the platform never connects to for a tenant: this host, its private networks, the
 * cloud metadata service (169.254.169.254), and ranges that are not ordinary public unicast or
 * that embed an IPv4 address a gateway would translate (IPv4-mapped, NAT64, 6to4, Teredo).
 */
// One list per family: a BlockList checks an IPv4 address against IPv6 rules too (as IPv4-mapped),
// so ::ffff:0:0/96 in a shared list would refuse every IPv4 address.
const INTERNAL_V4 = new BlockList();
const INTERNAL_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) INTERNAL_V4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['::ffff:0:0', 96], // IPv4-mapped
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo among them)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) INTERNAL_V6.addSubnet(net, prefix, 'ipv6');

/** True for an IP address (v4 or v6, brackets allowed) in one of the internal ranges. */
export function isInternalAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  const family = isIP(a);
  if (family === 0) return false;
  return family === 4 ? INTERNAL_V4.check(a, 'ipv4') : INTERNAL_V6.check(a, 'ipv6');
}

/** A hostname as compared: lower case, no brackets, no trailing dots. */
export function normalizedHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.+$/, '');
}

/**
 * Hosts written in a URL that name the platform's own network: internal-only names and internal
 * address literals. A public name resolving to an internal address is caught at connect time
 * (tenantDispatcher), not here.
 */
export function isInternalHost(hostname: string): boolean {
  const h = normalizedHost(hostname);
  if (h === '' || h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.internal') || h.endsWith('.local') || h.endsWith('.home.arpa')) return true;
  return isInternalAddress(h);
}

/** fetch refuses URLs with credentials, and the API would show them: they are never accepted. */
function withoutCredentials(u: string): boolean {
  if (!URL.canParse(u)) return true;
  const { username, password } = new URL(u);
  return !username && !password;
}

/** HTTPS only, and not an internal address: a tenant must not make the platform call into its own network. */
export const httpsUrl = z
  .string()
  .url()
  .max(2048)
  .refine((u) => u.startsWith('https://'), 'must be an https:// URL')
  // Checks all run in zod 4 even after .url() failed: a string that is no URL must not throw here.
  .refine((u) => !URL.canParse(u) || !isInternalHost(new URL(u).hostname), 'must not be a loopback, private or link-local address')
  .refine(withoutCredentials, 'must not contain a user name or password');

/**
 * A URL a tenant registers for the platform to call (function endpoints, webhook endpoints, model
 * base URLs): `httpsUrl`, or any URL when ALLOW_INSECURE_TENANT_URLS is on (development: a
 * receiver on the developer's own machine).
 */
export function tenantUrl(allowInsecure: boolean) {
  return allowInsecure ? z.string().url().max(2048).refine(withoutCredentials, 'must not contain a user name or password') : httpsUrl;
}

/** Why the platform will not call this URL as written, or undefined. Checked again at send time. */
export function refusedTenantUrl(url: string, allowInsecure: boolean): string | undefined {
  if (allowInsecure) return undefined;
  if (!URL.canParse(url)) return 'the endpoint URL is not a URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return 'the endpoint URL is not https';
  if (isInternalHost(parsed.hostname)) return 'the endpoint URL names a loopback, private or link-local address';
  return undefined;
}

// ---- Connect time ----

/** The connection was refused because the name resolved to (or was) an internal address. */
export class TenantAddressRefusedError extends Error {
  readonly code = 'ERR_TENANT_ADDRESS_REFUSED';
  constructor(host: string) {
    super(`${host} resolves to an internal address`);
    this.name = 'TenantAddressRefusedError';
  }
}

/** A 3xx answer: redirects of tenant URLs are never followed. */
export class TenantRedirectRefusedError extends Error {
  readonly code = 'ERR_TENANT_REDIRECT_REFUSED';
  constructor(readonly status: number) {
    super(`HTTP ${status}: redirects are not followed`);
    this.name = 'TenantRedirectRefusedError';
  }
}

/** dns.lookup with `all: true`, as the dispatcher calls it; tests map names with their own. */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: ResolveAll = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface TenantDispatcherOptions {
  allowInsecure: boolean;
  /** Name resolution; dns.lookup by default. */
  resolve?: ResolveAll;
}

/**
 * An undici Agent for tenant URLs: unless insecure URLs are allowed, a connection to an internal
 * address is refused, whether the URL names it or its name resolves to it.
 */
export function tenantDispatcher(options: TenantDispatcherOptions): Agent {
  if (options.allowInsecure && !options.resolve) return new Agent();
  const resolveAll = options.resolve ?? systemResolve;
  const lookup = (hostname: string, opts: { all?: boolean; family?: number | string }, callback: LookupCallback) => {
    resolveAll(normalizedHost(hostname) || hostname).then(
      (all) => {
        const wanted = opts.family === 4 || opts.family === 6 ? all.filter((a) => a.family === opts.family) : all;
        if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), opts.all ? [] : '');
        if (!options.allowInsecure && wanted.some((a) => isInternalAddress(a.address))) return callback(new TenantAddressRefusedError(hostname), opts.all ? [] : '');
        if (opts.all) callback(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, opts.all ? [] : ''),
    );
  };
  const connector = buildConnector({ lookup } as buildConnector.BuildOptions);
  return new Agent({
    connect(opts, callback) {
      // Node dials an address literal without a lookup: it is checked here.
      if (!options.allowInsecure && isInternalAddress(opts.hostname)) return callback(new TenantAddressRefusedError(opts.hostname), null);
      connector(opts, callback);
    },
  });
}

/**
 * fetch through the dispatcher, redirects not followed: a 3xx rejects with
 * TenantRedirectRefusedError. The shape the OpenAI and Anthropic SDKs take as `fetch`.
 */
export function tenantFetch(dispatcher: Agent): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, { ...init, redirect: 'manual', dispatcher } as RequestInit);
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      throw new TenantRedirectRefusedError(response.status);
    }
    return response;
  };
}

/** The cause of a failed fetch, for a debug log line: a code such as ECONNREFUSED, or a message. */
export function networkFailureDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
}
