// The functions page (being built).
import type { Me } from '../api/client';

export function FunctionsPage(_: { me: Me }) {
  return <h1>Functions</h1>;
}
