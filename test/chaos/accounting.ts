// The fault-injection suite's accounting, after the drain: for every message sent, how often it
// is stored (inbound rows by external id), how often it was answered (replies naming its token
// that its user received: the fake Graph API's accepted sends for WhatsApp, the assistant frames
// a visitor's socket received for web chat, plus the outbound rows), whether replies came in the
// order of the user's messages, and how long they took. Every loss and duplicate is explained
// from the database rows and the conversation workflow's Temporal histories where possible.
import type { Client } from '@temporalio/client';
import { mapHistoryPayloads } from '../replay/history-files.ts';
import protos from '@temporalio/proto'; // CommonJS: no named ESM exports under Node
import pg from 'pg';
import type { Ledger, ObservedReply, SentMessage, UserKind } from './load.ts';
import { TOKEN_PATTERN } from './stack.ts';

export interface KindFigures {
  sent: number;
  /** Acknowledged by the API at least once (a 2xx, an `accepted` frame). */
  acknowledged: number;
  stored: number;
  storedTwice: number;
  answered: number;
  answeredTwice: number;
  /**
   * Of those, WhatsApp replies sent twice because Meta accepted the first send but the platform
   * never learned it (no row records its id): the window the Graph API leaves open, since it has
   * no idempotency key. Reported, not counted as the platform's duplicates.
   */
  answeredTwiceGraphWindow: number;
  /**
   * No reply named it, but its user got the platform's failure notice (every provider failed or
   * the turn's time ran out: "never silence") while it waited: not lost, not answered either.
   */
  answeredWithNotice: number;
  /** Outbound rows (sent or later) naming the message. */
  outboundRows: number;
  outboundRowsTwice: number;
  lost: number;
  lostNotStored: number;
  lostNotAnswered: number;
  /** Answered after a later message of the same user was answered. */
  outOfOrder: number;
  /** Stored with an earlier timestamp than a message the user sent before it (ties do not count). */
  storedOutOfOrder: number;
  delays: number[];
  /** WhatsApp: attempts answered non-2xx or failed; web chat: resends. */
  retries: number;
  forcedRedeliveries: number;
}

export interface Finding {
  kind: UserKind;
  problem: string;
  user: string;
  token: string;
  seq: number;
  externalId: string;
  workflowId: string | null;
  facts: string[];
  /** More ids to follow through the histories (the outbound rows of a duplicate). */
  alsoSearch?: string[];
}

export interface Accounting {
  figures: Record<UserKind, KindFigures>;
  /** Replies the fake Graph API accepted whose id no outbound row records as sent. */
  acceptedNotRecorded: { user: string; text: string; graphMessageId: string }[];
  /** Replies naming no token (a fallback or failure message). */
  unattributed: ObservedReply[];
  /** Outbound rows still pending or failed at the end. */
  unsentRows: { user: string; status: string; text: string; error: unknown }[];
  findings: Finding[];
  replayedFrames: number;
}

interface InboundRow {
  external_message_id: string;
  created_at: Date;
}
interface OutboundRow {
  id: string;
  channel: string;
  status: string;
  content: { text?: string; providerMessageIds?: string[] };
  error: unknown;
  external_message_id: string | null;
  created_at: Date;
  external_user_id: string;
}

const tokensOf = (text: string | undefined) => [...new Set(text?.match(TOKEN_PATTERN) ?? [])];

export async function account(options: { databaseUrl: string; tenantId: string; ledger: Ledger; client: Client }): Promise<Accounting> {
  const { ledger } = options;
  const db = new pg.Client({ connectionString: options.databaseUrl });
  await db.connect();
  let inbound: InboundRow[];
  let outbound: OutboundRow[];
  let conversations: { external_user_id: string; workflow_id: string | null }[];
  try {
    inbound = (await db.query<InboundRow>(`SELECT external_message_id, created_at FROM messages WHERE tenant_id = $1 AND direction = 'inbound' ORDER BY created_at, id`, [options.tenantId])).rows;
    outbound = (
      await db.query<OutboundRow>(
        `SELECT m.id, m.channel, m.status, m.content, m.error, m.external_message_id, m.created_at, c.external_user_id
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE m.tenant_id = $1 AND m.direction = 'outbound' ORDER BY m.created_at, m.id`,
        [options.tenantId],
      )
    ).rows;
    conversations = (await db.query(`SELECT external_user_id, workflow_id FROM conversations WHERE tenant_id = $1`, [options.tenantId])).rows;
  } finally {
    await db.end();
  }
  const workflowOf = new Map(conversations.map((c) => [c.external_user_id, c.workflow_id]));

  const storedRows = new Map<string, InboundRow[]>();
  for (const row of inbound) storedRows.set(row.external_message_id, [...(storedRows.get(row.external_message_id) ?? []), row]);
  const sentStatuses = new Set(['sent', 'delivered', 'read']);
  const rowsByToken = new Map<string, OutboundRow[]>();
  const recordedProviderIds = new Set<string>();
  for (const row of outbound) {
    if (!sentStatuses.has(row.status)) continue;
    for (const t of tokensOf(row.content.text)) rowsByToken.set(t, [...(rowsByToken.get(t) ?? []), row]);
    for (const id of row.content.providerMessageIds ?? []) recordedProviderIds.add(id);
    if (row.external_message_id) recordedProviderIds.add(row.external_message_id);
  }
  const repliesByToken = new Map<string, ObservedReply[]>();
  for (const reply of ledger.replies) for (const t of reply.tokens) repliesByToken.set(t, [...(repliesByToken.get(t) ?? []), reply]);
  // A reply naming no message (the failure notice) goes to the oldest message of its user that
  // was sent before it and that no reply names.
  const noticeFor = new Map<string, ObservedReply>();
  for (const reply of ledger.replies.filter((r) => r.tokens.length === 0)) {
    const waiting = ledger.messages.find(
      (m) => m.user === reply.user && m.firstSentAt <= reply.at && storedRows.has(m.externalId) && !repliesByToken.has(m.token) && !noticeFor.has(m.token),
    );
    if (waiting) noticeFor.set(waiting.token, reply);
  }

  const empty = (): KindFigures => ({
    sent: 0, acknowledged: 0, stored: 0, storedTwice: 0, answered: 0, answeredTwice: 0, answeredTwiceGraphWindow: 0, answeredWithNotice: 0, outboundRows: 0, outboundRowsTwice: 0,
    lost: 0, lostNotStored: 0, lostNotAnswered: 0, outOfOrder: 0, storedOutOfOrder: 0, delays: [], retries: 0, forcedRedeliveries: 0,
  });
  const figures: Record<UserKind, KindFigures> = { whatsapp: empty(), webchat: empty() };
  const findings: Finding[] = [];
  const finding = (m: SentMessage, problem: string, facts: string[]) =>
    findings.push({ kind: m.kind, problem, user: m.user, token: m.token, seq: m.seq, externalId: m.externalId, workflowId: workflowOf.get(m.user) ?? null, facts });

  for (const m of ledger.messages) {
    const f = figures[m.kind];
    f.sent++;
    if (m.acks > 0) f.acknowledged++;
    f.retries += Math.max(0, m.attempts - 1 - m.forcedRedeliveries);
    f.forcedRedeliveries += m.forcedRedeliveries;
    const stored = storedRows.get(m.externalId)?.length ?? 0;
    const replies = repliesByToken.get(m.token) ?? [];
    const rows = rowsByToken.get(m.token) ?? [];
    if (stored > 0) f.stored++;
    if (stored > 1) f.storedTwice++;
    if (replies.length > 0) f.answered++;
    const unrecorded = m.kind === 'whatsapp' ? replies.filter((r) => !recordedProviderIds.has(r.id)).length : 0;
    const throughGraphWindow = replies.length > 1 && rows.length <= 1 && replies.length - unrecorded <= 1;
    if (replies.length > 1) f.answeredTwice++;
    if (throughGraphWindow) f.answeredTwiceGraphWindow++;
    if (rows.length > 0) f.outboundRows++;
    if (rows.length > 1) f.outboundRowsTwice++;
    const first = replies[0];
    if (first) f.delays.push(first.at - m.firstSentAt);
    const base = [
      `sent ${new Date(m.firstSentAt).toISOString()}, ${m.attempts} attempt(s), ${m.acks} acknowledgement(s)` +
        (m.firstAckAt ? ` (first after ${m.firstAckAt - m.firstSentAt} ms)` : '') +
        (Object.keys(m.failures).length ? `, failures ${JSON.stringify(m.failures)}` : ''),
      `stored ${stored}×, replies seen ${replies.length}, outbound rows ${rows.length}`,
    ];
    const notice = noticeFor.get(m.token);
    if (stored > 0 && replies.length === 0 && notice) {
      f.answeredWithNotice++;
      finding(m, 'answered only with the failure notice', [...base, `notice at ${new Date(notice.at).toISOString()}: "${notice.text}"`]);
    } else if (stored === 0 || replies.length === 0) {
      f.lost++;
      if (stored === 0) f.lostNotStored++;
      else f.lostNotAnswered++;
      const why =
        stored === 0 ? (m.acks === 0 ? 'never acknowledged by the API, not stored' : 'acknowledged by the API but never stored') : rows.length > 0 ? 'stored, answered in the database, reply never reached the user' : 'stored but never answered';
      finding(m, `lost: ${why}`, base);
    }
    if (stored > 1) finding(m, `stored ${stored} times`, [...base, ...storedRows.get(m.externalId)!.map((r) => `row created ${r.created_at.toISOString()}`)]);
    if (replies.length > 1 || rows.length > 1) {
      const facts = [
        ...base,
        ...replies.map((r) => `reply ${r.id} at ${new Date(r.at).toISOString()}${m.kind === 'whatsapp' ? (recordedProviderIds.has(r.id) ? ' (recorded in a row)' : ' (NOT recorded in any row)') : ''}: "${r.text}"`),
        ...rows.map((r) => `row ${r.id} ${r.status} created ${r.created_at.toISOString()}`),
      ];
      finding(m, `answered ${replies.length} times (${rows.length} outbound rows)${throughGraphWindow ? ": through the Graph API's window (Meta accepted a send the platform did not learn of, and it was sent again)" : ''}`, facts);
      findings.at(-1)!.alsoSearch = rows.map((r) => r.id);
    }
  }

  // Order, per user: replies in arrival order; a message first answered after a later one was.
  const byUser = new Map<string, SentMessage[]>();
  for (const m of ledger.messages) byUser.set(m.user, [...(byUser.get(m.user) ?? []), m]);
  for (const [user, messages] of byUser) {
    const kind = messages[0]!.kind;
    const seqOf = new Map(messages.map((m) => [m.token, m.seq]));
    const answered = new Set<string>();
    let maxSeq = -1;
    for (const reply of ledger.replies.filter((r) => r.user === user)) {
      for (const t of reply.tokens) {
        const seq = seqOf.get(t);
        if (seq === undefined || answered.has(t)) continue;
        answered.add(t);
        if (seq < maxSeq) {
          figures[kind].outOfOrder++;
          const m = messages.find((x) => x.token === t)!;
          finding(m, `answered out of order (after message #${maxSeq} of the same user)`, [`reply ${reply.id} at ${new Date(reply.at).toISOString()}: "${reply.text}"`]);
        }
        maxSeq = Math.max(maxSeq, seq);
      }
    }
    // Rows are created at the message's own timestamp (WhatsApp's has whole seconds): only a
    // strictly earlier row of a later message is out of order, not a tie.
    const seqByExternal = new Map(messages.map((m) => [m.externalId, m.seq]));
    const mine = inbound.filter((row) => seqByExternal.has(row.external_message_id));
    let maxBefore = -1;
    for (let i = 0; i < mine.length; ) {
      const at = mine[i]!.created_at.getTime();
      let j = i;
      while (j < mine.length && mine[j]!.created_at.getTime() === at) j++;
      const group = mine.slice(i, j).map((row) => seqByExternal.get(row.external_message_id)!);
      for (const seq of group) if (seq < maxBefore) figures[kind].storedOutOfOrder++;
      maxBefore = Math.max(maxBefore, ...group);
      i = j;
    }
  }

  const acceptedNotRecorded = ledger.replies
    .filter((r) => r.kind === 'whatsapp' && !recordedProviderIds.has(r.id))
    .map((r) => ({ user: r.user, text: r.text, graphMessageId: r.id }));
  const unsentRows = outbound.filter((r) => !sentStatuses.has(r.status)).map((r) => ({ user: r.external_user_id, status: r.status, text: r.content.text ?? '', error: r.error }));

  const accounting: Accounting = {
    figures,
    acceptedNotRecorded,
    unattributed: ledger.replies.filter((r) => r.tokens.length === 0),
    unsentRows,
    findings,
    replayedFrames: ledger.replayedFrames,
  };
  await explain(options.client, findings).catch((err: unknown) => {
    for (const f of findings) f.facts.push(`(histories not read: ${(err as Error).message})`);
  });
  return accounting;
}

// ---- Temporal histories ------------------------------------------------------------------

type HistoryEvent = { eventId?: unknown; eventTime?: unknown; [key: string]: unknown };

/** The event's attributes key without the suffix, e.g. "activityTaskScheduled". */
function eventName(event: HistoryEvent): string {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes') && event[k]);
  return key ? key.replace(/EventAttributes$/, '') : 'unknown';
}

/**
 * Every payload of the event decoded as text (JSON payloads), to search for an id. A walk of the
 * object rather than JSON.stringify: protobuf messages' toJSON turns bytes into base64.
 */
function eventText(event: HistoryEvent): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown, depth: number) => {
    if (value === null || value === undefined || depth > 12) return;
    if (value instanceof Uint8Array) {
      parts.push(Buffer.from(value).toString('utf8'));
      return;
    }
    if (typeof value === 'string') {
      parts.push(value);
      return;
    }
    if (typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    for (const v of Array.isArray(value) ? value : Object.values(value)) walk(v, depth + 1);
  };
  walk(event, 0);
  return parts.join('\n');
}

function retryState(state: unknown): string {
  const name = typeof state === 'number' ? protos.temporal.api.enums.v1.RetryState[state] : String(state);
  return (name ?? String(state)).replace(/^RETRY_STATE_/, '').toLowerCase().replace(/_/g, ' ');
}

function timeoutType(type: unknown): string {
  const name = typeof type === 'number' ? protos.temporal.api.enums.v1.TimeoutType[type] : String(type);
  return (name ?? String(type)).replace(/^TIMEOUT_TYPE_/, '').toLowerCase().replace(/_/g, '-');
}

function failureText(failure: unknown): string {
  const f = failure as
    | {
        message?: string;
        cause?: unknown;
        applicationFailureInfo?: { type?: string };
        timeoutFailureInfo?: { timeoutType?: unknown };
        activityFailureInfo?: { activityType?: { name?: string }; retryState?: unknown };
      }
    | undefined;
  if (!f) return '';
  const type = f.applicationFailureInfo?.type
    ? ` [${f.applicationFailureInfo.type}]`
    : f.timeoutFailureInfo
      ? ` [${timeoutType(f.timeoutFailureInfo.timeoutType)} timeout]`
      : f.activityFailureInfo
        ? ` [activity ${f.activityFailureInfo.activityType?.name ?? '?'}, ${retryState(f.activityFailureInfo.retryState)}]`
        : '';
  const cause = f.cause ? `; cause: ${failureText(f.cause)}` : '';
  const message = (f.message ?? '').replace(/\s+/g, ' ').trim();
  return `${message.length > 200 ? `${message.slice(0, 200)}…` : message}${type}${cause}`;
}

interface RunHistory {
  runId: string;
  status: string;
  events: HistoryEvent[];
}

/** For each finding, what the workflow's runs did with the message (signal, activities, run ends). */
export async function explain(client: Client, findings: Finding[]): Promise<void> {
  const cache = new Map<string, RunHistory[]>();
  for (const f of findings) {
    if (!f.workflowId) {
      f.facts.push('no conversation row: the workflow never opened the conversation');
      continue;
    }
    let runs = cache.get(f.workflowId);
    if (!runs) {
      runs = [];
      for await (const info of client.workflow.list({ query: `WorkflowId = "${f.workflowId.replace(/"/g, '\\"')}"` })) {
        // Payloads are ciphertext in the history (lib/payload-codec.ts): decoded with the client's codecs to be searched.
        const history = await mapHistoryPayloads(await client.workflow.getHandle(f.workflowId, info.runId).fetchHistory(), async (payloads) => {
          let decoded = payloads;
          for (const codec of [...client.options.loadedDataConverter.payloadCodecs].reverse()) decoded = await codec.decode(decoded as never);
          return decoded;
        });
        runs.push({ runId: info.runId, status: info.status.name, events: (history.events ?? []) as HistoryEvent[] });
      }
      runs.reverse(); // oldest first
      cache.set(f.workflowId, runs);
    }
    f.facts.push(`workflow ${f.workflowId}: ${runs.length} run(s): ${runs.map((r) => `${r.runId.slice(0, 8)} ${r.status}`).join(', ')}`);
    for (const run of runs) {
      const story = runStory(run, [f.externalId, f.token, ...(f.alsoSearch ?? [])]);
      if (story.length) f.facts.push(`run ${run.runId.slice(0, 8)} (${run.status}): ${story.join('; ')}`);
    }
  }
}

/** Entries of one run's story at most (the rest is counted). */
const STORY_MAX = 14;

/**
 * What one run did with the message (its external id or its token): the signal, the first
 * activity of each type that carried it, every activity carrying it that needed a retry or failed,
 * persistInbound's verdict, and how the run ended. Later turns carry the message in their history,
 * so routine completions after the first are left out.
 */
function runStory(run: RunHistory, ids: string[]): string[] {
  const story: string[] = [];
  const scheduled = new Map<string, { type: string; eventId: string; troubled: boolean }>();
  const seenTypes = new Set<string>();
  /** Types whose last activity failed: the next completion of the type (the retry or the fallback) is told. */
  const failedTypes = new Set<string>();
  let markers = 0;
  for (const event of run.events) {
    const name = eventName(event);
    const eventId = String(event.eventId);
    const attrs = event[`${name}EventAttributes`] as Record<string, unknown>;
    const text = eventText(event);
    const mentions = ids.some((id) => text.includes(id));
    if (name === 'activityTaskScheduled') {
      if (mentions) scheduled.set(eventId, { type: (attrs.activityType as { name?: string } | undefined)?.name ?? '?', eventId, troubled: false });
      continue;
    }
    const act = attrs && 'scheduledEventId' in attrs ? scheduled.get(String(attrs.scheduledEventId)) : undefined;
    if (act) {
      const first = !seenTypes.has(act.type);
      if (name === 'activityTaskStarted') {
        const attempt = Number(attrs.attempt ?? 1);
        if (attempt > 1) {
          act.troubled = true;
          story.push(`#${act.eventId} ${act.type} attempt ${attempt}${attrs.lastFailure ? ` after: ${failureText(attrs.lastFailure)}` : ''}`);
        }
      } else if (name === 'activityTaskCompleted') {
        if (act.type === 'persistInbound') story.push(`#${act.eventId} persistInbound completed ${mentions ? '(result includes the message)' : '(result does NOT include the message)'}`);
        else if (first || act.troubled || failedTypes.has(act.type)) story.push(`#${act.eventId} ${act.type} completed`);
        seenTypes.add(act.type);
        failedTypes.delete(act.type);
      } else {
        story.push(`#${act.eventId} ${act.type} ${name.replace('activityTask', '').toLowerCase()}: ${failureText(attrs.failure)}`);
        seenTypes.add(act.type);
        failedTypes.add(act.type);
      }
      continue;
    }
    if (name === 'workflowExecutionFailed') story.push(`#${eventId} run FAILED: ${failureText(attrs.failure)}`);
    else if (name === 'workflowExecutionTerminated') story.push(`#${eventId} run terminated: ${String(attrs.reason ?? '')}`);
    else if (name === 'workflowExecutionTimedOut') story.push(`#${eventId} run timed out`);
    else if (name === 'workflowExecutionContinuedAsNew' && (mentions || story.length > 0)) story.push(`#${eventId} continued as new${mentions ? ' (carrying the message)' : ' (not carrying the message)'}`);
    else if (name === 'workflowExecutionCompleted' && story.length > 0) story.push(`#${eventId} run completed`);
    else if (name === 'workflowTaskFailed') story.push(`#${eventId} workflow task failed: ${failureText(attrs.failure)}`);
    else if (name === 'workflowExecutionStarted' && mentions) story.push(`#${eventId} started carrying the message`);
    else if (name === 'workflowExecutionSignaled' && mentions) story.push(`#${eventId} signalled with it`);
    else if (name === 'markerRecorded' && mentions && markers++ === 0) story.push(`#${eventId} local activity / marker carrying it`);
  }
  if (story.length > STORY_MAX) {
    // Keep the beginning and the end (how the run ended).
    const head = story.slice(0, STORY_MAX - 3);
    const tail = story.slice(-2);
    return [...head, `… ${story.length - head.length - tail.length} more`, ...tail];
  }
  return story;
}

// ---- The table ---------------------------------------------------------------------------

export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function totals(a: Accounting): KindFigures {
  const t = { ...a.figures.whatsapp, delays: [...a.figures.whatsapp.delays, ...a.figures.webchat.delays] };
  for (const key of Object.keys(t) as (keyof KindFigures)[]) {
    if (key !== 'delays') (t[key] as number) = a.figures.whatsapp[key] + a.figures.webchat[key];
  }
  return t;
}
