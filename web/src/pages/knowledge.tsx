// The knowledge page (being built).
import type { Me } from '../api/client';

export function KnowledgePage(_: { me: Me }) {
  return <h1>Knowledge</h1>;
}
