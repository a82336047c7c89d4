// The api-keys page (being built).
import type { Me } from '../api/client';

export function ApiKeysPage(_: { me: Me }) {
  return <h1>ApiKeys</h1>;
}
