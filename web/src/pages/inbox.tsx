// The inbox page (being built).
import type { Me } from '../api/client';

export function InboxPage(_: { me: Me }) {
  return <h1>Inbox</h1>;
}
