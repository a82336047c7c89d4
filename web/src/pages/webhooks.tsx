// The webhooks page (being built).
import type { Me } from '../api/client';

export function WebhooksPage(_: { me: Me }) {
  return <h1>Webhooks</h1>;
}
