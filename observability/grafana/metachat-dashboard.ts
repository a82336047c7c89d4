// The platform's Grafana dashboard as code. `npx tsx observability/grafana/metachat-dashboard.ts`
// writes dashboards/metachat.json, which Grafana loads through provisioning/dashboards/; the JSON
// is committed so that Grafana needs nothing but the file. test/dashboard.test.ts checks that the
// file is what this module builds and that every query is on a series of observability/metrics.json.
// A list of rows of panels reads (and reviews) better than two thousand lines of panel JSON.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_PATH = fileURLToPath(new URL('dashboards/metachat.json', import.meta.url));

interface Query {
  expr: string;
  legend: string;
  /** One value per series (bar gauges): the query is evaluated at the dashboard's end time only. */
  instant?: boolean;
}

interface PanelSpec {
  title: string;
  description: string;
  type?: 'timeseries' | 'stat' | 'state-timeline' | 'bargauge';
  /** Grafana unit id (https://grafana.com/docs/grafana/latest/panels-visualizations/configure-standard-options/). */
  unit: string;
  /** Of 24 columns; a row's panels fill it left to right. */
  width: number;
  queries: Query[];
  stacked?: boolean;
  /** Value → [text, colour], for gauges that encode a state. */
  states?: Record<string, [string, string]>;
  /** Shown when the query returns nothing (instead of "No data"). */
  noValue?: string;
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
const PANEL_HEIGHT = 8;
/** Matches the tenant variable on every series that has a tenant label. */
const T = 'tenant=~"$tenant"';
const R = '$__rate_interval';

const quantiles = (series: string, by: string[], legendPrefix: string): Query[] =>
  [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (rate(${series}_bucket[${R}])))`,
    legend: `${legendPrefix}p${q * 100}`,
  }));

const q = (expr: string, legend: string): Query => ({ expr, legend });

export const ROWS: RowSpec[] = [
  {
    title: 'Traffic',
    panels: [
      {
        title: 'Inbound messages by channel',
        description: 'New customer messages stored per second (redelivered webhooks are not counted).',
        unit: 'mps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (channel) (rate(metachat_inbound_messages_total{${T}}[${R}]))`, '{{channel}}')],
      },
      {
        title: 'Replies by channel and outcome',
        description: 'Outbound messages whose delivery ended, per second: sent, failed, or superseded (an agent took over first).',
        unit: 'mps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (channel, outcome) (rate(metachat_replies_total{${T}}[${R}]))`, '{{channel}} {{outcome}}')],
      },
      {
        title: 'Replies sent by sender',
        description: 'Replies the channel accepted, by who wrote them: the assistant or a human agent.',
        unit: 'mps',
        width: 4,
        stacked: true,
        queries: [q(`sum by (sender) (rate(metachat_replies_total{${T}, outcome="sent"}[${R}]))`, '{{sender}}')],
      },
      {
        title: 'Open conversations',
        description: 'Conversations not closed, by channel and status, counted from Postgres (every worker reports the same count: max, not sum).',
        unit: 'short',
        width: 4,
        stacked: true,
        queries: [q('max by (channel, status) (metachat_active_conversations)', '{{channel}} {{status}}')],
      },
    ],
  },
  {
    title: 'Replies and handoffs',
    panels: [
      {
        title: 'Reply latency',
        description: "Customer message received → assistant reply accepted by the channel, every channel. Alert ReplyLatencyHigh: p95 over 20 s.",
        unit: 's',
        width: 8,
        queries: quantiles('metachat_reply_latency_seconds', [], ''),
      },
      {
        title: 'Reply latency p95 by channel',
        description: 'The percentile alert ReplyLatencyHigh watches, per channel.',
        unit: 's',
        width: 6,
        queries: [q(`histogram_quantile(0.95, sum by (channel, le) (rate(metachat_reply_latency_seconds_bucket[${R}])))`, '{{channel}}')],
      },
      {
        title: 'Handoffs per hour by trigger',
        description: 'Conversations handed to a person, by who asked: the customer, the assistant (request_human) or an agent taking over.',
        unit: 'short',
        width: 5,
        stacked: true,
        queries: [q(`sum by (trigger) (rate(metachat_handoffs_total{${T}}[${R}])) * 3600`, '{{trigger}}')],
      },
      {
        title: 'Unanswered share of assistant replies',
        description: 'Assistant replies flagged "I don\'t know" over assistant replies sent. Alert UnansweredRateHigh: over 30 % for a tenant.',
        unit: 'percentunit',
        width: 5,
        queries: [
          q(
            `sum(rate(metachat_unanswered_replies_total{${T}}[${R}])) / (sum(rate(metachat_replies_total{${T}, sender="assistant", outcome="sent"}[${R}])) > 0)`,
            'unanswered',
          ),
        ],
      },
    ],
  },
  {
    title: 'LLM',
    panels: [
      {
        title: 'Model calls by outcome',
        description: 'Calls per second by provider, model and outcome (ok, error, fallback, breaker_open).',
        unit: 'reqps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (provider, model, outcome) (rate(metachat_llm_calls_total[${R}]))`, '{{provider}} {{model}} {{outcome}}')],
      },
      {
        title: 'Model call latency p95',
        description: 'Per provider and model.',
        unit: 's',
        width: 8,
        queries: [q(`histogram_quantile(0.95, sum by (provider, model, le) (rate(metachat_llm_call_duration_seconds_bucket[${R}])))`, '{{provider}} {{model}}')],
      },
      {
        title: 'Circuit breakers',
        description: 'Per provider and worker: closed, half-open (probing), open (new turns go straight to the fallback).',
        type: 'state-timeline',
        unit: 'none',
        width: 8,
        states: { '0': ['closed', 'green'], '1': ['half-open', 'yellow'], '2': ['open', 'red'] },
        queries: [q('max by (provider, instance) (metachat_llm_breaker_state)', '{{provider}} {{instance}}')],
      },
      {
        title: 'Tokens per second',
        description: 'Input and output tokens by provider and model.',
        unit: 'short',
        width: 8,
        stacked: true,
        queries: [q(`sum by (provider, model, kind) (rate(metachat_llm_tokens_total[${R}]))`, '{{provider}} {{model}} {{kind}}')],
      },
      {
        title: 'Cost per hour',
        description: 'Estimated model cost in USD per hour, by provider and model.',
        unit: 'currencyUSD',
        width: 8,
        stacked: true,
        queries: [q(`sum by (provider, model) (rate(metachat_llm_cost_usd_total{${T}}[${R}])) * 3600`, '{{provider}} {{model}}')],
      },
      {
        title: 'Cost in the last 24 hours, top tenants',
        description: 'The ten tenants that cost most over the day before the end of the time range; turns refused for a spent budget are in the next panel.',
        type: 'bargauge',
        unit: 'currencyUSD',
        width: 4,
        queries: [{ expr: `topk(10, sum by (tenant) (increase(metachat_llm_cost_usd_total{${T}}[24h])))`, legend: '{{tenant}}', instant: true }],
      },
      {
        title: 'Turns refused for a spent budget',
        description: 'Per tenant, per hour. Alert TenantBudgetExhausted.',
        unit: 'short',
        width: 4,
        queries: [q(`sum by (tenant) (rate(metachat_llm_budget_exhausted_total{${T}}[${R}])) * 3600`, '{{tenant}}')],
      },
    ],
  },
  {
    title: 'Retrieval and ingestion',
    panels: [
      {
        title: 'Retrieval latency',
        description: 'One retrieval: question embedding, vector and text search.',
        unit: 's',
        width: 5,
        queries: quantiles('metachat_retrieval_duration_seconds', [], ''),
      },
      {
        title: 'Passages per retrieval',
        description: 'Mean passages found by a retrieval.',
        unit: 'short',
        width: 4,
        queries: [q(`sum(rate(metachat_retrieval_passages_sum[${R}])) / (sum(rate(metachat_retrieval_passages_count[${R}])) > 0)`, 'mean')],
      },
      {
        title: 'Retrievals that found nothing',
        description: 'Share of retrievals with no passage: the assistant then says it does not know (see UnansweredRateHigh).',
        unit: 'percentunit',
        width: 4,
        queries: [q(`sum(rate(metachat_retrieval_passages_bucket{le="0"}[${R}])) / (sum(rate(metachat_retrieval_passages_count[${R}])) > 0)`, 'none found')],
      },
      {
        title: 'Documents ingested by outcome',
        description: 'Ingestions ended per hour: ready or failed.',
        unit: 'short',
        width: 4,
        stacked: true,
        queries: [q(`sum by (outcome) (rate(metachat_ingestion_documents_total[${R}])) * 3600`, '{{outcome}}')],
      },
      {
        title: 'Chunks stored',
        description: 'Chunks per second, by tenant.',
        unit: 'short',
        width: 3,
        stacked: true,
        queries: [q(`sum by (tenant) (rate(metachat_ingestion_chunks_total{${T}}[${R}]))`, '{{tenant}}')],
      },
      {
        title: 'Ingestion duration',
        description: 'One document, from its upload stored to ready.',
        unit: 's',
        width: 4,
        queries: quantiles('metachat_ingestion_duration_seconds', [], ''),
      },
    ],
  },
  {
    title: 'Tenant webhooks and Graph API',
    panels: [
      {
        title: 'Tenant webhook attempts by outcome',
        description: 'Delivery attempts to tenants\' endpoints ended per second: delivered, retried, failed (retries exhausted).',
        unit: 'reqps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (outcome) (rate(metachat_tenant_webhook_deliveries_total[${R}]))`, '{{outcome}}')],
      },
      {
        title: 'Webhook endpoints disabled',
        description: 'Endpoints the platform disabled after repeated failed deliveries, per tenant, over the last hour. Alert TenantWebhookEndpointDisabled.',
        unit: 'short',
        width: 8,
        queries: [q(`sum by (tenant) (increase(metachat_tenant_webhook_endpoints_disabled_total{${T}}[1h]))`, '{{tenant}}')],
      },
      {
        title: 'Graph API errors by class',
        description: 'Failed WhatsApp and Messenger calls per second: transient (retried soon), throttled (retried after the wait Meta asks), permanent (not retried).',
        unit: 'reqps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (channel, class) (rate(metachat_graph_api_errors_total[${R}]))`, '{{channel}} {{class}}')],
      },
    ],
  },
  {
    title: 'HTTP (API)',
    panels: [
      {
        title: 'Requests by route and status',
        description: 'Answers per second by route pattern and status code.',
        unit: 'reqps',
        width: 8,
        stacked: true,
        queries: [q(`sum by (route, status_code) (rate(metachat_http_request_duration_seconds_count[${R}]))`, '{{route}} {{status_code}}')],
      },
      {
        title: 'Request latency p95 by route',
        description: 'Webhook acknowledgements should stay in milliseconds: the API never waits on a model.',
        unit: 's',
        width: 8,
        queries: [q(`histogram_quantile(0.95, sum by (route, le) (rate(metachat_http_request_duration_seconds_bucket[${R}])))`, '{{route}}')],
      },
      {
        title: 'Webhook 5xx share',
        description: 'Server errors over all answers, per webhook route. Alert WebhookServerErrors: over 5 %.',
        unit: 'percentunit',
        width: 8,
        queries: [
          q(
            `sum by (route) (rate(metachat_http_request_duration_seconds_count{route=~"/webhooks/.+", status_code=~"5.."}[${R}])) / (sum by (route) (rate(metachat_http_request_duration_seconds_count{route=~"/webhooks/.+"}[${R}])) > 0)`,
            '{{route}}',
          ),
        ],
      },
    ],
  },
  {
    title: 'Temporal workers',
    panels: [
      {
        title: 'Workflow task schedule-to-start p95',
        description: 'How long workflow tasks wait for a worker, per task queue. Rising: workers are too few or too busy.',
        unit: 's',
        width: 8,
        queries: [q(`histogram_quantile(0.95, sum by (task_queue, le) (rate(temporal_workflow_task_schedule_to_start_latency_bucket[${R}])))`, '{{task_queue}}')],
      },
      {
        title: 'Task slots available',
        description: 'Free slots per task queue and worker type (WorkflowWorker, ActivityWorker, LocalActivityWorker); at zero, tasks wait.',
        unit: 'short',
        width: 8,
        queries: [q('sum by (task_queue, worker_type) (temporal_worker_task_slots_available)', '{{task_queue}} {{worker_type}}')],
      },
      {
        title: 'Poll and request failures',
        description: 'Failed long polls (alert WorkerPollFailures) and other failed requests to the Temporal server, per second.',
        unit: 'reqps',
        width: 8,
        queries: [
          q(`sum by (operation) (rate(temporal_long_request_failure[${R}]))`, 'poll {{operation}}'),
          q(`sum by (operation) (rate(temporal_request_failure[${R}]))`, '{{operation}}'),
        ],
      },
      {
        title: 'Sticky cache size',
        description: 'Workflows cached per worker (WORKER_MAX_CACHED_WORKFLOWS bounds it).',
        unit: 'short',
        width: 4,
        queries: [q('sum by (instance) (temporal_sticky_cache_size)', '{{instance}}')],
      },
      {
        title: 'Sticky cache hit ratio',
        description: 'Share of workflow tasks that found their workflow cached; a miss replays its history.',
        unit: 'percentunit',
        width: 4,
        queries: [
          q(
            `sum(rate(temporal_sticky_cache_hit[${R}])) / ((sum(rate(temporal_sticky_cache_hit[${R}])) + sum(rate(temporal_sticky_cache_miss[${R}]))) > 0)`,
            'hit ratio',
          ),
        ],
      },
      {
        title: 'Workflow failures per hour',
        description: 'Failed workflow runs by type; the scheduled types (partitionMaintenance, integrityCheck, documentPurge, tenantEventSweep) raise ScheduleFailures.',
        unit: 'short',
        width: 6,
        queries: [q(`sum by (workflow_type) (rate(temporal_workflow_failed[${R}])) * 3600`, '{{workflow_type}}')],
      },
      {
        title: 'Activity failures per hour',
        description: 'Failed activity attempts by type (each retry counts).',
        unit: 'short',
        width: 5,
        queries: [q(`sum by (activity_type) (rate(temporal_activity_execution_failed[${R}])) * 3600`, '{{activity_type}}')],
      },
      {
        title: 'Integrity findings',
        description: 'Findings of the latest integrity run, per check. Alert IntegrityFindings.',
        unit: 'short',
        width: 5,
        queries: [q('max by (check) (metachat_integrity_findings)', '{{check}}')],
      },
    ],
  },
  {
    title: 'Processes',
    panels: [
      {
        title: 'Targets up',
        description: 'Whether Prometheus scraped each API and worker process. Alerts ApiDown, WorkerDown.',
        type: 'stat',
        unit: 'none',
        width: 4,
        states: { '0': ['down', 'red'], '1': ['up', 'green'] },
        queries: [q('up{job=~"api|worker"}', '{{job}} {{instance}}')],
      },
      {
        title: 'CPU',
        description: 'Cores used per process.',
        unit: 'short',
        width: 5,
        queries: [q(`sum by (service, instance) (rate(metachat_process_cpu_seconds_total[${R}]))`, '{{service}} {{instance}}')],
      },
      {
        title: 'Memory',
        description: 'Resident set and V8 heap used per process.',
        unit: 'bytes',
        width: 5,
        queries: [
          q('sum by (service, instance) (metachat_process_resident_memory_bytes)', 'rss {{service}} {{instance}}'),
          q('sum by (service, instance) (metachat_nodejs_heap_size_used_bytes)', 'heap {{service}} {{instance}}'),
        ],
      },
      {
        title: 'Event loop lag p99',
        description: 'A busy event loop delays every webhook, socket and activity of the process.',
        unit: 's',
        width: 5,
        queries: [q('max by (service, instance) (metachat_nodejs_eventloop_lag_p99_seconds)', '{{service}} {{instance}}')],
      },
      {
        title: 'Firing alerts',
        description: 'The rules of observability/prometheus/alerts.yml that fire now.',
        type: 'stat',
        unit: 'none',
        width: 5,
        noValue: 'none',
        queries: [q('count by (alertname) (ALERTS{alertstate="firing"})', '{{alertname}}')],
      },
    ],
  },
];

function fieldConfig(spec: PanelSpec) {
  const mappings = spec.states
    ? [{ type: 'value', options: Object.fromEntries(Object.entries(spec.states).map(([value, [text, color]], index) => [value, { text, color, index }])) }]
    : [];
  const custom =
    (spec.type ?? 'timeseries') === 'timeseries'
      ? {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: spec.stacked ? 30 : 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: spec.stacked ? 'normal' : 'none', group: 'A' },
        }
      : undefined;
  return {
    defaults: {
      unit: spec.unit,
      ...(spec.states ? {} : { min: 0 }),
      ...(spec.noValue ? { noValue: spec.noValue } : {}),
      color: { mode: spec.states ? 'thresholds' : 'palette-classic' },
      mappings,
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
      ...(custom ? { custom } : {}),
    },
    overrides: [],
  };
}

function options(spec: PanelSpec) {
  const legend = { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] };
  const tooltip = { mode: 'multi', sort: 'desc' };
  const reduceOptions = { calcs: ['lastNotNull'], fields: '', values: false };
  switch (spec.type ?? 'timeseries') {
    case 'stat':
      return { reduceOptions, colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', orientation: 'auto', justifyMode: 'auto' };
    case 'bargauge':
      return { reduceOptions, displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true, valueMode: 'color' };
    case 'state-timeline':
      return { showValue: 'auto', mergeValues: true, rowHeight: 0.9, alignValue: 'left', legend, tooltip };
    default:
      return { legend, tooltip };
  }
}

export function buildDashboard() {
  let id = 0;
  let y = 0;
  const panels: unknown[] = [];
  for (const row of ROWS) {
    panels.push({ id: ++id, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      if (x + spec.width > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push({
        id: ++id,
        type: spec.type ?? 'timeseries',
        title: spec.title,
        description: spec.description,
        datasource: DATASOURCE,
        gridPos: { h: PANEL_HEIGHT, w: spec.width, x, y },
        fieldConfig: fieldConfig(spec),
        options: options(spec),
        targets: spec.queries.map((query, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DATASOURCE,
          expr: query.expr,
          legendFormat: query.legend,
          range: !query.instant,
          instant: Boolean(query.instant),
        })),
      });
      x += spec.width;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: 'metachat-overview',
    title: 'Meta Chat Platform',
    description: 'Traffic, replies, models, retrieval, ingestion, webhooks, Temporal workers and processes (observability/grafana/metachat-dashboard.ts).',
    tags: ['metachat'],
    editable: false,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: '30s',
    schemaVersion: 41,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'utc',
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: { text: 'Prometheus', value: 'prometheus' },
          hide: 0,
          refresh: 1,
          regex: '',
          options: [],
        },
        {
          name: 'tenant',
          label: 'Tenant',
          description: 'Tenant ids with inbound traffic; beyond METRICS_TENANT_LABELS per process, tenants are counted as "other".',
          type: 'query',
          datasource: DATASOURCE,
          definition: 'label_values(metachat_inbound_messages_total, tenant)',
          query: { qryType: 1, query: 'label_values(metachat_inbound_messages_total, tenant)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
          refresh: 2,
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: ['All'], value: ['$__all'] },
          sort: 1,
          hide: 0,
          regex: '',
          options: [],
        },
      ],
    },
    panels,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DASHBOARD_PATH, `${JSON.stringify(buildDashboard(), null, 2)}\n`);
  console.log(`wrote ${DASHBOARD_PATH}`);
}
