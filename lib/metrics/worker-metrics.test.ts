// The bounded tenant label, and each WorkerMetrics instance on its own registry.
import { describe, expect, it } from 'vitest';
import { parsePrometheusText, valueOf } from '../../test/support/prometheus-text.ts';
import { BoundedLabel, OTHER } from './bounded-label.ts';
import { MODEL_LABELS, WorkerMetrics } from './worker-metrics.ts';

describe('the bounded label', () => {
  it('keeps the first `limit` values and reports every later one as other, for good', () => {
    const label = new BoundedLabel(2);
    expect(['t1', 't2', 't3', 't1', 't4', 't2'].map((t) => label.of(t))).toEqual(['t1', 't2', OTHER, 't1', OTHER, 't2']);
    expect(new BoundedLabel(0).of('t1')).toBe(OTHER);
  });
});

describe('WorkerMetrics', () => {
  it('gives METRICS_TENANT_LABELS tenants their own tenant label and counts the rest as other', async () => {
    const metrics = new WorkerMetrics({ tenantLabels: 2 });
    for (const tenant of ['a', 'b', 'c', 'd', 'a']) metrics.inboundStored(tenant, 'whatsapp', 1);
    metrics.replyEnded('e', 'messenger', 'agent', 'sent');
    metrics.llmCall({ tenantId: 'f', provider: 'openai', model: 'gpt-4o-mini', outcome: 'ok', seconds: 0.5, inputTokens: 10, outputTokens: 5, costUsd: 0.001 });
    const samples = parsePrometheusText(await metrics.registry.metrics());
    const tenants = new Set(samples.filter((s) => s.labels.tenant !== undefined).map((s) => s.labels.tenant));
    expect([...tenants].sort()).toEqual(['a', 'b', OTHER]);
    expect(valueOf(samples, 'metachat_inbound_messages_total', { tenant: 'a' })).toBe(2);
    expect(valueOf(samples, 'metachat_inbound_messages_total', { tenant: OTHER })).toBe(2);
    expect(valueOf(samples, 'metachat_replies_total', { tenant: OTHER, channel: 'messenger', sender: 'agent', outcome: 'sent' })).toBe(1);
    expect(valueOf(samples, 'metachat_llm_cost_usd_total', { tenant: OTHER, provider: 'openai', model: 'gpt-4o-mini' })).toBeCloseTo(0.001);
  });

  it('bounds tenant-chosen model names too', async () => {
    const metrics = new WorkerMetrics();
    for (let i = 0; i <= MODEL_LABELS; i++) metrics.llmCall({ tenantId: 't', provider: 'openai', model: `model-${i}`, outcome: 'error', seconds: 1 });
    const samples = parsePrometheusText(await metrics.registry.metrics());
    expect(new Set(samples.filter((s) => s.name === 'metachat_llm_calls_total').map((s) => s.labels.model)).size).toBe(MODEL_LABELS + 1);
    expect(valueOf(samples, 'metachat_llm_calls_total', { model: OTHER, outcome: 'error' })).toBe(1);
  });

  it('keeps each instance on its own registry, and reads the breakers at scrape time', async () => {
    const one = new WorkerMetrics();
    const two = new WorkerMetrics();
    one.inboundStored('t', 'webchat', 3);
    let state: 'closed' | 'open' = 'closed';
    two.observeBreakers(() => [['openai', state]]);
    expect(valueOf(parsePrometheusText(await two.registry.metrics()), 'metachat_inbound_messages_total')).toBe(0);
    expect(valueOf(parsePrometheusText(await one.registry.metrics()), 'metachat_inbound_messages_total')).toBe(3);
    expect(valueOf(parsePrometheusText(await two.registry.metrics()), 'metachat_llm_breaker_state', { provider: 'openai' })).toBe(0);
    state = 'open';
    expect(valueOf(parsePrometheusText(await two.registry.metrics()), 'metachat_llm_breaker_state', { provider: 'openai' })).toBe(2);
  });
});
