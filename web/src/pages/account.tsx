// The account page (being built).
import type { Me } from '../api/client';

export function AccountPage(_: { me: Me }) {
  return <h1>Account</h1>;
}
