// A local fake of Stripe's API for tests, speaking its wire format: form-encoded requests
// (`a[b][0]=c`), JSON objects with `object` and `id`, lists, and Stripe's error envelope
// (`{ error: { type, code, message, param } }` with its HTTP statuses). The official SDK is pointed
// at it with its host/port/protocol options (STRIPE_API_URL).
//
//   POST /v1/customers                    a customer
//   POST /v1/checkout/sessions            a subscription Checkout session (its price must be added)
//   POST /v1/billing_portal/sessions      a portal session of a known customer
//   GET  /v1/invoices?customer=&limit=    the customer's invoices added with addInvoice()
//   POST /v1/billing/meter_events         a meter event; an identifier seen before is refused
//
// The pages Stripe hosts, where those sessions send the browser, answer a plain page naming the
// session (GET /pay/<session id>, GET /portal/<portal session id>), so a browser test sees that it
// got there. An Idempotency-Key seen before replays the first answer, as Stripe does. completeCheckout()
// plays what Stripe does when the customer pays: it makes the subscription and returns the
// webhook events, and signedEvent() signs any event the way Stripe signs deliveries. Every
// request is recorded.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const FAKE_STRIPE_KEY = 'sk_test_fake';
export const FAKE_STRIPE_WEBHOOK_SECRET = 'whsec_fakesecret';

export interface RecordedStripeRequest {
  method: string;
  path: string;
  params: Record<string, unknown>;
  idempotencyKey?: string;
}

type StripeObject = Record<string, unknown> & { id: string; object: string };

export interface FakeStripe {
  url: string;
  requests: RecordedStripeRequest[];
  customers: Map<string, StripeObject>;
  meterEvents: StripeObject[];
  addPrice(id: string): void;
  addInvoice(customer: string, invoice: { amountDue: number; status?: string }): StripeObject;
  /** What Stripe does when a Checkout session is paid: the subscription, and the events it sends. */
  completeCheckout(sessionId: string): { subscription: StripeObject; events: StripeObject[] };
  /** A webhook event of `type` about `object`, as Stripe sends it. */
  event(type: string, object: StripeObject, createdAt?: number): StripeObject;
  /** The body and Stripe-Signature header of a delivery of `event`. */
  signedEvent(event: StripeObject, secret?: string): { payload: string; signature: string };
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

/** `a[b][0]=c` form fields as nested objects and arrays (Stripe's encoding). */
export function parseStripeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(/\]?\[|\]/).filter((p) => p !== '');
    let node: Record<string, unknown> = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) {
        node[part] = value;
        return;
      }
      const next = path[i + 1]!;
      node[part] ??= /^\d+$/.test(next) ? [] : {};
      node = node[part] as Record<string, unknown>;
    });
  }
  return root;
}

class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const missing = (what: string, value: unknown, param: string) => new StripeApiError(404, 'invalid_request_error', `No such ${what}: '${String(value)}'`, 'resource_missing', param);

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: RecordedStripeRequest[] = [];
  const customers = new Map<string, StripeObject>();
  const sessions = new Map<string, StripeObject>();
  const prices = new Set<string>();
  const invoices: StripeObject[] = [];
  const meterEvents: StripeObject[] = [];
  const identifiers = new Set<string>();
  const replies = new Map<string, { status: number; body: unknown }>();
  let url = '';

  function route(method: string, path: string, params: Record<string, unknown>, query: URLSearchParams): StripeObject {
    if (method === 'POST' && path === '/v1/customers') {
      const customer = { id: id('cus'), object: 'customer', created: now(), livemode: false, name: params.name ?? null, email: params.email ?? null, metadata: params.metadata ?? {} };
      customers.set(customer.id, customer);
      return customer;
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      if (params.mode !== 'subscription') throw new StripeApiError(400, 'invalid_request_error', 'This fake takes subscription sessions only', 'parameter_invalid_empty', 'mode');
      if (!customers.has(String(params.customer))) throw missing('customer', params.customer, 'customer');
      const items = (params.line_items ?? []) as { price?: string; quantity?: string }[];
      if (items.length === 0) throw new StripeApiError(400, 'invalid_request_error', 'Missing required param: line_items.', 'parameter_missing', 'line_items');
      items.forEach((item, i) => {
        if (!prices.has(String(item.price))) throw missing('price', item.price, `line_items[${i}][price]`);
      });
      for (const param of ['success_url', 'cancel_url']) if (!params[param]) throw new StripeApiError(400, 'invalid_request_error', `Missing required param: ${param}.`, 'parameter_missing', param);
      const sid = id('cs_test');
      const session = {
        id: sid, object: 'checkout.session', mode: 'subscription', status: 'open', customer: params.customer, client_reference_id: params.client_reference_id ?? null,
        metadata: params.metadata ?? {}, subscription: null, url: `${url}/pay/${sid}`, line_items: items, subscription_data: params.subscription_data ?? {}, created: now(), livemode: false,
      };
      sessions.set(sid, session);
      return session;
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!customers.has(String(params.customer))) throw missing('customer', params.customer, 'customer');
      const pid = id('bps');
      return { id: pid, object: 'billing_portal.session', customer: params.customer, return_url: params.return_url ?? null, url: `${url}/portal/${pid}`, created: now(), livemode: false };
    }
    if (method === 'GET' && path === '/v1/invoices') {
      const customer = query.get('customer');
      if (customer && !customers.has(customer)) throw missing('customer', customer, 'customer');
      const limit = Number(query.get('limit') ?? 10);
      const data = invoices.filter((i) => !customer || i.customer === customer).sort((a, b) => Number(b.created) - Number(a.created)).slice(0, limit);
      return { id: 'list', object: 'list', url: '/v1/invoices', has_more: false, data };
    }
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      const identifier = String(params.identifier ?? id('mev'));
      const payload = (params.payload ?? {}) as Record<string, string>;
      if (!params.event_name) throw new StripeApiError(400, 'invalid_request_error', 'Missing required param: event_name.', 'parameter_missing', 'event_name');
      if (!customers.has(payload.stripe_customer_id ?? '')) throw missing('customer', payload.stripe_customer_id, 'payload[stripe_customer_id]');
      if (identifiers.has(identifier)) throw new StripeApiError(400, 'invalid_request_error', `An event already exists with identifier ${identifier}.`, 'resource_already_exists', 'identifier');
      identifiers.add(identifier);
      const event = { id: identifier, object: 'billing.meter_event', event_name: params.event_name, identifier, payload, timestamp: Number(params.timestamp ?? now()), created: now(), livemode: false };
      meterEvents.push(event);
      return event;
    }
    throw new StripeApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = new URL(req.url ?? '/', 'http://fake');
    const params = parseStripeForm(Buffer.concat(chunks).toString('utf8'));
    const idempotencyKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    requests.push({ method: req.method ?? 'GET', path: target.pathname, params, ...(idempotencyKey && { idempotencyKey }) });
    const hosted = req.method === 'GET' && /^\/(pay|portal)\/([A-Za-z0-9_]+)$/.exec(target.pathname);
    if (hosted) {
      const title = hosted[1] === 'pay' ? 'Fake Stripe Checkout' : 'Fake Stripe customer portal';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><link rel="icon" href="data:,"><title>${title}</title><h1>${title}</h1><p id="session">${hosted[2]}</p></html>`);
      return;
    }
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${FAKE_STRIPE_KEY}`) {
      return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    const replayed = idempotencyKey && replies.get(idempotencyKey);
    if (replayed) return send(replayed.status, replayed.body);
    let status = 200;
    let body: unknown;
    try {
      body = route(req.method ?? 'GET', target.pathname, params, target.searchParams);
    } catch (err) {
      if (!(err instanceof StripeApiError)) throw err;
      status = err.status;
      body = { error: { type: err.type, message: err.message, ...(err.code && { code: err.code }), ...(err.param && { param: err.param }) } };
    }
    if (idempotencyKey && req.method === 'POST') replies.set(idempotencyKey, { status, body });
    send(status, body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: 'fake failure' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signer = new Stripe(FAKE_STRIPE_KEY);

  const fake: FakeStripe = {
    url,
    requests,
    customers,
    meterEvents,
    addPrice: (priceId) => void prices.add(priceId),
    addInvoice(customer, invoice) {
      const created = now() + invoices.length;
      const made = {
        id: id('in'), object: 'invoice', customer, number: `FAKE-${invoices.length + 1}`, status: invoice.status ?? 'paid', currency: 'usd',
        amount_due: invoice.amountDue, amount_paid: invoice.status === 'open' ? 0 : invoice.amountDue, created, period_start: created - 2_592_000, period_end: created,
        hosted_invoice_url: `${url}/invoice`, invoice_pdf: `${url}/invoice.pdf`, livemode: false,
      };
      invoices.push(made);
      return made;
    },
    completeCheckout(sessionId) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no checkout session ${sessionId}`);
      const price = (session.line_items as { price: string }[])[0]!.price;
      const start = now();
      const subscription = {
        id: id('sub'), object: 'subscription', customer: session.customer, status: 'active', created: start, livemode: false,
        metadata: (session.subscription_data as { metadata?: unknown }).metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price: { id: price, object: 'price' }, quantity: 1, current_period_start: start, current_period_end: start + 2_592_000 }] },
      };
      Object.assign(session, { status: 'complete', subscription: subscription.id });
      return { subscription, events: [fake.event('checkout.session.completed', session), fake.event('customer.subscription.created', subscription)] };
    },
    event: (type, object, createdAt = now()) => ({ id: id('evt'), object: 'event', api_version: '2026-10-28.endive', created: createdAt, livemode: false, type, data: { object }, pending_webhooks: 1, request: { id: null, idempotency_key: null } }),
    signedEvent(event, secret = FAKE_STRIPE_WEBHOOK_SECRET) {
      const payload = JSON.stringify(event);
      return { payload, signature: signer.webhooks.generateTestHeaderString({ payload, secret }) };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return fake;
}

/** The configuration that points the platform at the fake. */
export function fakeStripeEnv(fake: FakeStripe, prices: Record<string, string>, meters: Record<string, string> = {}): Record<string, string> {
  const pairs = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k}:${v}`).join(',');
  return { STRIPE_SECRET_KEY: FAKE_STRIPE_KEY, STRIPE_WEBHOOK_SECRET: FAKE_STRIPE_WEBHOOK_SECRET, STRIPE_API_URL: fake.url, STRIPE_PRICES: pairs(prices), ...(Object.keys(meters).length && { STRIPE_METER_EVENTS: pairs(meters) }) };
}
