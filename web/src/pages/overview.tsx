// The landing page after sign-in: who you are, in which tenant, and what your role lets you do.
import type { Me } from '../api/client';

const ROLE_TEXT = {
  owner: 'You manage everything in this tenant, owners included.',
  admin: 'You manage everything in this tenant, and the team except its owners.',
  agent: 'You answer conversations handed over to people.',
} as const;

export function OverviewPage({ me }: { me: Me }) {
  return (
    <>
      <h1>Overview</h1>
      <dl className="facts" id="account">
        <dt>Name</dt>
        <dd>{me.user.name ?? '—'}</dd>
        <dt>Email</dt>
        <dd>{me.user.email}</dd>
        <dt>Tenant</dt>
        <dd>{me.tenant.name} ({me.tenant.slug})</dd>
        <dt>Role</dt>
        <dd>{me.user.role}</dd>
      </dl>
      <p>{ROLE_TEXT[me.user.role]}</p>
    </>
  );
}
