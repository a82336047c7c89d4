// The landing page after sign-in: who you are, in which tenant, and what your role lets you do.
// Owners and admins also see the tenant's last 7 or 30 UTC days (GET /api/v1/analytics) as charts:
// messages per channel, reply latency, handoffs, unanswered questions and model cost against the
// daily budget. Agents, whom analytics is not for, see the conversations waiting for a person.
import { useEffect, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { DailyChart, shortDay } from '../components/daily-chart';
import { Link } from '../router';
import { Problem } from '../forms';
import './overview.css';

type Analytics = paths['/api/v1/analytics/']['get']['responses'][200]['content']['application/json'];

const ROLE_TEXT = {
  owner: 'You manage everything in this tenant, owners included.',
  admin: 'You manage everything in this tenant, and the team except its owners.',
  agent: 'You answer conversations handed over to people.',
} as const;

const RANGES = [7, 30] as const;
type Range = (typeof RANGES)[number];
const DAY_MS = 86_400_000;

/** The last `n` UTC days, today included, oldest first. */
function lastDays(n: number): string[] {
  const today = Date.parse(new Date().toISOString().slice(0, 10));
  return Array.from({ length: n }, (_, i) => new Date(today - (n - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

const count = (n: number) => n.toLocaleString(undefined, { maximumFractionDigits: 1 });
const percent = (share: number) => `${Math.round(share * 100)} %`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const usd = (v: number) => `$${v.toFixed(2)}`;
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

export function OverviewPage({ me }: { me: Me }) {
  const manager = me.user.role !== 'agent';
  return (
    <>
      <h1>Overview</h1>
      <dl className="facts" id="account">
        <dt>Name</dt>
        <dd>{me.user.name ?? '—'}</dd>
        <dt>Email</dt>
        <dd>{me.user.email}</dd>
        <dt>Tenant</dt>
        <dd>{me.tenant.name} ({me.tenant.slug})</dd>
        <dt>Role</dt>
        <dd>{me.user.role}</dd>
      </dl>
      <p>{ROLE_TEXT[me.user.role]}</p>
      {manager ? <TenantCharts /> : <WaitingForPeople />}
    </>
  );
}

/** For agents: how many conversations wait for a person now (the Inbox has them). */
function WaitingForPeople() {
  const [waiting, setWaiting] = useState<{ n: number; more: boolean }>();
  const [problem, setProblem] = useState('');
  useEffect(() => {
    void api.GET('/api/v1/conversations/', { params: { query: { status: 'handoff_requested', limit: 100 } } }).then(({ data, error, response }) => {
      if (data) setWaiting({ n: data.items.length, more: data.nextCursor !== null });
      else setProblem(problemOf(error, response));
    });
  }, []);
  return (
    <section aria-labelledby="waiting-title">
      <h2 id="waiting-title">Waiting for a person</h2>
      <Problem>{problem}</Problem>
      {waiting && (
        <p id="waiting">
          {waiting.n === 0 ? 'No conversation is waiting for a person.' : `${waiting.more ? 'More than ' : ''}${plural(waiting.n, 'conversation')} ${waiting.n === 1 && !waiting.more ? 'is' : 'are'} waiting for a person.`}{' '}
          <Link to="/inbox">Open the Inbox</Link>
        </p>
      )}
    </section>
  );
}

function TenantCharts() {
  const [range, setRange] = useState<Range>(7);
  const [data, setData] = useState<{ range: Range; days: string[]; analytics: Analytics }>();
  const [problem, setProblem] = useState('');

  useEffect(() => {
    let current = true;
    const days = lastDays(range);
    const to = new Date(Date.parse(days[days.length - 1]!) + DAY_MS).toISOString().slice(0, 10);
    setProblem('');
    void api.GET('/api/v1/analytics/', { params: { query: { from: days[0]!, to } } }).then(({ data: analytics, error, response }) => {
      if (!current) return;
      if (analytics) setData({ range, days, analytics });
      else setProblem(problemOf(error, response));
    });
    return () => {
      current = false;
    };
  }, [range]);

  return (
    <section aria-labelledby="activity-title" className="overview-charts">
      <div className="overview-head">
        <h2 id="activity-title">Activity</h2>
        <div role="group" aria-label="Range" className="range-switch">
          {RANGES.map((r) => (
            <button key={r} type="button" className={r === range ? undefined : 'secondary'} aria-pressed={r === range} onClick={() => setRange(r)}>
              Last {r} days
            </button>
          ))}
        </div>
      </div>
      <p className="muted">UTC days; today counts so far.</p>
      <Problem>{problem}</Problem>
      {!data ? <p aria-busy="true">Loading…</p> : <Charts key={data.range} {...data} />}
    </section>
  );
}

function Charts({ range, days, analytics: a }: { range: Range; days: string[]; analytics: Analytics }) {
  const span = `the last ${range} days`;
  const byDay = <T extends { day: string }>(rows: T[], value: (r: T) => number | null) => {
    const map = new Map(rows.map((r) => [r.day, r]));
    return days.map((d) => (map.has(d) ? value(map.get(d)!) : null));
  };
  const orZero = (values: (number | null)[]) => values.map((v) => v ?? 0);
  const overBudget = a.costPerDay.filter((d) => d.costUsd > a.budget.dailyBudgetUsd);

  return (
    <div id="charts" data-range={range}>
      <h3 className="chart-group">Messages by channel</h3>
      {a.channels.length === 0 ? (
        <p className="empty" id="messages-empty">No messages in {span}.</p>
      ) : (
        a.channels.map((c) => {
          const rows = a.messagesPerDayByChannel.filter((r) => r.channelId === c.id);
          const inbound = rows.reduce((s, r) => s + r.inbound, 0);
          const outbound = rows.reduce((s, r) => s + r.outbound, 0);
          return (
            <div key={c.id} className="chart-slot" data-chart="messages" data-channel={c.name}>
              <DailyChart
                title={`${c.name} (${c.type})`}
                kind="bars"
                days={days}
                format={count}
                series={[
                  { name: 'Messages in', values: orZero(byDay(rows, (r) => r.inbound)) },
                  { name: 'Messages out', values: orZero(byDay(rows, (r) => r.outbound)) },
                ]}
                summary={`${c.name}: ${plural(inbound, 'message')} in and ${count(outbound)} out in ${span}.`}
              />
            </div>
          );
        })
      )}

      <h3 className="chart-group">Reply latency</h3>
      {a.responseLatencyMs.count === 0 ? (
        <p className="empty" id="latency-empty">No replies in {span}.</p>
      ) : (
        <div className="chart-slot" data-chart="latency">
          <DailyChart
            title="Time from a customer's message to the reply"
            kind="lines"
            days={days}
            format={seconds}
            series={[
              { name: 'Median (p50)', values: byDay(a.responseLatencyPerDay, (r) => r.p50) },
              { name: '95th percentile (p95)', values: byDay(a.responseLatencyPerDay, (r) => r.p95) },
            ]}
            summary={`Over ${plural(a.responseLatencyMs.count, 'reply', 'replies')} in ${span}, half came within ${seconds(a.responseLatencyMs.p50!)} and 95 % within ${seconds(a.responseLatencyMs.p95!)}.`}
          />
        </div>
      )}

      <h3 className="chart-group">Handed to people</h3>
      {a.totals.conversations === 0 ? (
        <p className="empty" id="handoff-empty">No conversations in {span}.</p>
      ) : (
        <div className="chart-slot" data-chart="handoff">
          <DailyChart
            title="Share of the day's conversations handed to a person"
            kind="bars"
            days={days}
            format={percent}
            minMax={1}
            series={[{ name: 'Handed to people', values: byDay(a.handoffPerDay, (r) => r.rate) }]}
            summary={`${count(a.handoff.conversations)} of ${plural(a.totals.conversations, 'conversation')} (${percent(a.handoff.rate)}) in ${span} asked for a person.`}
          />
        </div>
      )}

      <h3 className="chart-group">Unanswered questions</h3>
      <p className="definition">
        An assistant reply counts as unanswered when it did not answer: it said it does not know and offered a person (it quotes the handoff keyword),
        or it was the budget-exhausted or unavailable message. They are matched against the settings as they are now; agents' replies are not counted.
      </p>
      {a.unanswered.replies === 0 ? (
        <p className="empty" id="unanswered-empty">No assistant replies in {span}.</p>
      ) : (
        <div className="chart-slot" data-chart="unanswered">
          <DailyChart
            title="Assistant replies, answered and unanswered"
            kind="stacked"
            days={days}
            format={count}
            series={[
              { name: 'Answered', values: orZero(byDay(a.unansweredPerDay, (r) => r.replies - r.unanswered)) },
              { name: 'Unanswered', values: orZero(byDay(a.unansweredPerDay, (r) => r.unanswered)) },
            ]}
            summary={`${count(a.unanswered.unanswered)} of ${plural(a.unanswered.replies, 'assistant reply', 'assistant replies')} (${percent(a.unanswered.rate)}) in ${span} did not answer.`}
          />
        </div>
      )}

      <h3 className="chart-group">Model cost</h3>
      {a.costPerDay.length === 0 ? (
        <p className="empty" id="cost-empty">No model cost in {span}.</p>
      ) : (
        <div className="chart-slot" data-chart="cost">
          <DailyChart
            title="Model and embedding cost per day"
            kind="bars"
            days={days}
            format={usd}
            reference={{ value: a.budget.dailyBudgetUsd, label: `Daily budget ${usd(a.budget.dailyBudgetUsd)}` }}
            series={[{ name: 'Cost', values: orZero(byDay(a.costPerDay, (r) => r.costUsd)) }]}
            summary={`${usd(a.costUsd)} in ${span} against a daily budget of ${usd(a.budget.dailyBudgetUsd)}; ${
              overBudget.length === 0 ? 'no day went over it' : `over it on ${overBudget.map((d) => shortDay(d.day)).join(', ')}`
            }.`}
          />
        </div>
      )}
    </div>
  );
}
