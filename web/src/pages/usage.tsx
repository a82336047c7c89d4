// The usage report (GET /api/v1/usage) for a calendar month (UTC): messages, model and embedding
// tokens and cost, today's spend against the daily budget, and the documents and their chunks
// against the plan's limits; and the plan (GET /api/v1/billing): each monthly limit with its use,
// flagged from 80 %, the features it includes and those it does not, and, with billing on, the way
// to subscribe or manage the subscription.
import { useEffect, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { byteSize } from '../components/byte-size';
import { Problem } from '../forms';
import './usage.css';

type Usage = paths['/api/v1/usage/']['get']['responses'][200]['content']['application/json'];
type Billing = paths['/api/v1/billing/']['get']['responses'][200]['content']['application/json'];
type Plans = paths['/api/v1/billing/plans']['get']['responses'][200]['content']['application/json'];
type Invoice = paths['/api/v1/billing/invoices']['get']['responses'][200]['content']['application/json']['items'][number];

const LIMIT_NAMES: Record<keyof Billing['usage'], string> = {
  monthlyMessages: 'Messages this month',
  monthlyModelSpendUsd: 'Model spend this month',
  documents: 'Documents',
  chunks: 'Chunks',
  seats: 'Team seats',
  channels: 'Channels',
};

const PERIODS = [
  { id: 'this-month', name: 'This month', offset: 0 },
  { id: 'last-month', name: 'Last month', offset: -1 },
] as const;

/** [from, to) of the UTC month `offset` months from this one. */
function month(offset: number): { from: string; to: string } {
  const now = new Date();
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  return { from: start.toISOString().slice(0, 10), to: end.toISOString().slice(0, 10) };
}

const count = (n: number | null) => (n === null ? 'unlimited' : n.toLocaleString());
const usd = (v: number, digits = 2) => `$${v.toFixed(digits)}`;
const utcDay = (iso: string) => new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });

/** An invoice amount: Stripe counts in the currency's smallest unit (cents; yen have none). */
function money(amount: number, currency: string): string {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

/** What Stripe Checkout sends the browser back with (the checkout route's success and cancel URLs). */
const CHECKOUT_RETURNS: Record<string, string> = {
  success: 'Thank you: the new plan applies as soon as Stripe confirms the payment, usually within a minute.',
  cancelled: 'Checkout was cancelled: nothing changed.',
};

export function UsagePage(_: { me: Me }) {
  const [period, setPeriod] = useState<(typeof PERIODS)[number]['id']>('this-month');
  const [usage, setUsage] = useState<Usage>();
  const [problem, setProblem] = useState('');
  const [billing, setBilling] = useState<Billing>();
  const [plans, setPlans] = useState<Plans['items']>([]);
  const [invoices, setInvoices] = useState<Invoice[]>();
  const [invoiceProblem, setInvoiceProblem] = useState('');
  const checkoutReturn = CHECKOUT_RETURNS[new URLSearchParams(window.location.search).get('checkout') ?? ''];

  useEffect(() => {
    void api.GET('/api/v1/billing/').then(({ data }) => data && setBilling(data));
    void api.GET('/api/v1/billing/plans').then(({ data }) => data && setPlans(data.items));
  }, []);

  // Invoices (GET /api/v1/billing/invoices) exist once the tenant is a Stripe customer: its first checkout.
  const hasCustomer = Boolean(billing?.billingEnabled && billing.subscription?.customer);
  useEffect(() => {
    if (!hasCustomer) return;
    void api.GET('/api/v1/billing/invoices', { params: { query: { limit: 12 } } }).then(({ data, error, response }) => {
      if (data) setInvoices(data.items);
      else setInvoiceProblem(problemOf(error, response));
    });
  }, [hasCustomer]);

  /** Opens Stripe Checkout, or the customer portal, in this tab. */
  async function goToStripe(plan?: string) {
    const { data, error, response } = plan ? await api.POST('/api/v1/billing/checkout', { body: { plan } }) : await api.POST('/api/v1/billing/portal');
    if (data) window.location.assign(data.url);
    else setProblem(problemOf(error, response));
  }

  useEffect(() => {
    let current = true;
    const range = month(PERIODS.find((p) => p.id === period)!.offset);
    setProblem('');
    void api.GET('/api/v1/usage/', { params: { query: range } }).then(({ data, error, response }) => {
      if (!current) return;
      if (data) setUsage(data);
      else setProblem(problemOf(error, response));
    });
    return () => {
      current = false;
    };
  }, [period]);

  const lastDay = usage && new Date(Date.parse(usage.to) - 1).toISOString();
  const spentShare = usage && usage.limits.dailyBudgetUsd > 0 ? usage.limits.spentTodayUsd / usage.limits.dailyBudgetUsd : 1;

  return (
    <>
      <h1>Usage</h1>
      <div role="group" aria-label="Period" className="period-switch">
        {PERIODS.map((p) => (
          <button key={p.id} type="button" className={p.id === period ? undefined : 'secondary'} aria-pressed={p.id === period} onClick={() => setPeriod(p.id)}>
            {p.name}
          </button>
        ))}
      </div>
      <Problem>{problem}</Problem>
      {checkoutReturn && <p role="status" id="checkout-return">{checkoutReturn}</p>}
      {!usage ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <div id="usage" data-from={usage.from.slice(0, 10)}>
          <p id="period">
            From {utcDay(usage.from)} to {utcDay(lastDay!)} (UTC days).
          </p>

          {billing && (
            <section aria-labelledby="plan-title" className="usage-panel" id="plan">
              <h2 id="plan-title">Plan: {billing.plan.name}</h2>
              {billing.subscription?.status && (
                <p id="subscription">
                  Subscription {billing.subscription.status}
                  {billing.subscription.currentPeriodEnd && `, current period until ${utcDay(billing.subscription.currentPeriodEnd)}`}.
                </p>
              )}
              <dl className="facts usage-facts" id="plan-limits">
                {(Object.keys(LIMIT_NAMES) as (keyof Billing['usage'])[]).map((name) => {
                  const u = billing.usage[name];
                  const shown = (n: number | null) => (n === null ? 'unlimited' : name === 'monthlyModelSpendUsd' ? usd(n) : count(n));
                  return [
                    <dt key={`${name}-t`}>{LIMIT_NAMES[name]}</dt>,
                    <dd key={`${name}-d`} data-limit={name} className={u.warning ? 'warning' : undefined}>
                      {shown(u.used)} of {shown(u.limit)}
                      {u.reached ? ' — limit reached' : u.warning ? ' — nearly used up' : ''}
                    </dd>,
                  ];
                })}
              </dl>
              {billing.warnings.length > 0 && <p role="status">Some limits are nearly used up: a larger plan raises them.</p>}
              <h3 id="plan-features-title">Features</h3>
              <ul className="plan-features" id="plan-features" aria-labelledby="plan-features-title">
                {billing.features.map((f) => (
                  <li key={f.feature} data-feature={f.feature} data-included={f.included} className={f.included ? undefined : 'muted'}>
                    <span aria-hidden="true">{f.included ? '✓' : '✗'}</span> {f.label}
                    {!f.included && <span className="visually-hidden"> (not included)</span>}
                  </li>
                ))}
              </ul>
              {billing.billingEnabled ? (
                <p className="plan-actions">
                  {plans.filter((p) => p.purchasable && p.id !== billing.plan.id).map((p) => (
                    <button key={p.id} type="button" onClick={() => void goToStripe(p.id)}>Subscribe to {p.name}</button>
                  ))}
                  {billing.subscription?.customer && (
                    <button type="button" className="secondary" onClick={() => void goToStripe()}>Manage subscription</button>
                  )}
                </p>
              ) : (
                <p className="muted" id="billing-off">
                  Billing is not set up on this platform: the platform's operators set your plan, and change it on request.
                </p>
              )}
            </section>
          )}

          {hasCustomer && (
            <section aria-labelledby="invoices-title" id="invoices">
              <h2 id="invoices-title">Invoices</h2>
              <Problem>{invoiceProblem}</Problem>
              {!invoices ? (
                !invoiceProblem && <p aria-busy="true">Loading…</p>
              ) : invoices.length === 0 ? (
                <p className="empty">No invoices yet.</p>
              ) : (
                <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="invoices-title">
                  <table id="invoice-list">
                    <thead>
                      <tr>
                        <th scope="col">Invoice</th><th scope="col">Date</th><th scope="col">Period</th><th scope="col">Amount</th><th scope="col">Status</th>
                        <th scope="col"><span className="visually-hidden">Links</span></th>
                      </tr>
                    </thead>
                    <tbody>
                      {invoices.map((i) => (
                        <tr key={i.id} data-invoice={i.id}>
                          <th scope="row">{i.number ?? i.id}</th>
                          <td>{utcDay(i.createdAt)}</td>
                          <td>{utcDay(i.periodStart)} – {utcDay(i.periodEnd)}</td>
                          <td className="amount">{money(i.status === 'paid' ? i.amountPaid : i.amountDue, i.currency)}</td>
                          <td className="status">{i.status ?? 'unknown'}</td>
                          <td>
                            {i.hostedInvoiceUrl && (
                              <a href={i.hostedInvoiceUrl} rel="noreferrer">
                                {i.status === 'open' ? 'Pay' : 'View'}<span className="visually-hidden"> invoice {i.number ?? i.id}</span>
                              </a>
                            )}
                            {i.hostedInvoiceUrl && i.invoicePdf && ' · '}
                            {i.invoicePdf && (
                              <a href={i.invoicePdf} rel="noreferrer">
                                PDF<span className="visually-hidden"> of invoice {i.number ?? i.id}</span>
                              </a>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          )}

          <section aria-labelledby="budget-title" className="usage-panel">
            <h2 id="budget-title">Today's spend</h2>
            <p id="budget">
              {usd(usage.limits.spentTodayUsd)} of the daily budget of {usd(usage.limits.dailyBudgetUsd)} spent today (UTC).
              {spentShare >= 1 && ' The budget is spent: the assistant sends the budget-exhausted message instead of answering until tomorrow.'}
            </p>
            <meter id="budget-meter" min={0} max={Math.max(usage.limits.dailyBudgetUsd, usage.limits.spentTodayUsd, 0.01)} high={usage.limits.dailyBudgetUsd * 0.8} optimum={0} value={usage.limits.spentTodayUsd} aria-labelledby="budget-title budget" />
            <p className="muted">Owners and admins set the budget in the assistant's settings (llm.dailyBudgetUsd).</p>
          </section>

          <section aria-labelledby="totals-title">
            <h2 id="totals-title">In this period</h2>
            <dl className="facts usage-facts" id="totals">
              <dt>Messages in</dt>
              <dd>{count(usage.messages.inbound)}</dd>
              <dt>Messages out</dt>
              <dd>{count(usage.messages.outbound)}</dd>
              <dt>Model and embedding calls</dt>
              <dd>{count(usage.totals.requests)}</dd>
              <dt>Prompt tokens</dt>
              <dd>{count(usage.totals.promptTokens)}</dd>
              <dt>Completion tokens</dt>
              <dd>{count(usage.totals.completionTokens)}</dd>
              <dt>Cost</dt>
              <dd>{usd(usage.totals.costUsd, 4)}</dd>
            </dl>
          </section>

          <section aria-labelledby="documents-title">
            <h2 id="documents-title">Documents now</h2>
            <dl className="facts usage-facts" id="documents">
              <dt>Documents</dt>
              <dd>{count(usage.documents.documents)} of {count(usage.limits.documents)} allowed</dd>
              <dt>Chunks</dt>
              <dd>{count(usage.documents.chunks)} of {count(usage.limits.chunks)} allowed</dd>
              <dt>Versions</dt>
              <dd>{count(usage.documents.versions.ready)} ready, {count(usage.documents.versions.processing)} processing, {count(usage.documents.versions.failed)} failed</dd>
              <dt>Size</dt>
              <dd>{byteSize(usage.documents.bytes)}</dd>
              <dt>Largest upload</dt>
              <dd>{byteSize(usage.limits.documentMaxBytes)} per document</dd>
            </dl>
            <p className="muted">Uploads are refused once either limit of the plan is reached; deleting documents frees room.</p>
          </section>

          <section aria-labelledby="days-title">
            <h2 id="days-title">By day and model</h2>
            {usage.days.length === 0 ? (
              <p className="empty" id="days-empty">No model or embedding calls in this period.</p>
            ) : (
              <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="days-title">
                <table id="usage-days">
                  <thead>
                    <tr>
                      <th scope="col">Day</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col">Calls</th>
                      <th scope="col">Prompt tokens</th><th scope="col">Completion tokens</th><th scope="col">Cost</th>
                    </tr>
                  </thead>
                  <tbody>
                    {usage.days.map((d) => (
                      <tr key={`${d.day}-${d.provider}-${d.model}`} data-day={d.day}>
                        <th scope="row">{d.day}</th><td>{d.provider}</td><td>{d.model}</td><td>{count(d.requests)}</td>
                        <td>{count(d.promptTokens)}</td><td>{count(d.completionTokens)}</td><td>{usd(d.costUsd, 4)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
      )}
    </>
  );
}
