// The usage page (being built).
import type { Me } from '../api/client';

export function UsagePage(_: { me: Me }) {
  return <h1>Usage</h1>;
}
