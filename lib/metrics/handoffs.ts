// metachat_handoffs_total is counted where each trigger is known: the worker counts the
// customer's keyword, the assistant's request_human and an agent's take-over of a conversation
// nobody had asked a person for; the API counts the requests of the tenant's own systems
// (POST /api/v1/conversations/:id/handoff), since the workflow cannot tell those from the
// assistant's. Both processes define it alike, so one query sums them.
import { Counter, type Registry } from 'prom-client';

export type HandoffTrigger = 'customer' | 'assistant' | 'agent';

export function handoffsCounter(registry: Registry): Counter<'tenant' | 'channel' | 'trigger'> {
  return new Counter({
    name: 'metachat_handoffs_total',
    help: 'Conversations handed to a person, by what asked for it',
    labelNames: ['tenant', 'channel', 'trigger'],
    registers: [registry],
  });
}
