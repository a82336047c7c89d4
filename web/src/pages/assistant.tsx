// The assistant page (being built).
import type { Me } from '../api/client';

export function AssistantPage(_: { me: Me }) {
  return <h1>Assistant</h1>;
}
