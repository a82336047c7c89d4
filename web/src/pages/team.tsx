// The team (owners and admins): its users (change a role, remove one), invite someone with a role,
// and the pending invitations (revoke one). Without SMTP the API answers a new invitation with its
// link, shown here once to pass on. Every write sends the session's CSRF token (api/client.ts).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, problemOf, type Me, type Role } from '../api/client';
import type { paths } from '../api/schema';
import { Field, formValues, Problem } from '../forms';

type User = paths['/api/v1/team/users']['get']['responses'][200]['content']['application/json']['items'][number];
type Invitation = paths['/api/v1/team/invitations']['get']['responses'][200]['content']['application/json']['items'][number];

const ROLES: readonly Role[] = ['owner', 'admin', 'agent'];

export function TeamPage({ me }: { me: Me }) {
  const [users, setUsers] = useState<User[]>();
  const [invitations, setInvitations] = useState<Invitation[]>();
  const [problem, setProblem] = useState('');
  const [link, setLink] = useState<{ email: string; link: string }>();
  const [removing, setRemoving] = useState<string>();
  // Only an owner gives or takes the owner role (the API answers 403 owner_required otherwise).
  const grantable = ROLES.filter((r) => r !== 'owner' || me.user.role === 'owner');
  const manageable = (u: User) => me.user.role === 'owner' || u.role !== 'owner';

  const load = useCallback(async () => {
    const [u, i] = await Promise.all([api.GET('/api/v1/team/users'), api.GET('/api/v1/team/invitations')]);
    if (u.data) setUsers(u.data.items);
    else setProblem(problemOf(u.error, u.response));
    if (i.data) setInvitations(i.data.items);
    else setProblem(problemOf(i.error, i.response));
  }, []);
  useEffect(() => void load(), [load]);

  async function invite(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const { email = '', role = 'agent' } = formValues(form);
    setProblem('');
    setLink(undefined);
    const { data, error, response } = await api.POST('/api/v1/team/invitations', { body: { email, role: role as Role } });
    if (!data) return setProblem(problemOf(error, response));
    form.reset();
    if (data.delivery === 'link' && data.link) setLink({ email: data.invitation.email, link: data.link });
    await load();
  }

  async function changeRole(user: User, role: Role) {
    setProblem('');
    const { error, response } = await api.PATCH('/api/v1/team/users/{id}', { params: { path: { id: user.id } }, body: { role } });
    if (!response.ok) setProblem(problemOf(error, response));
    await load();
  }

  async function remove(user: User) {
    setProblem('');
    setRemoving(undefined);
    const { error, response } = await api.DELETE('/api/v1/team/users/{id}', { params: { path: { id: user.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    await load();
  }

  async function revoke(invitation: Invitation) {
    setProblem('');
    const { error, response } = await api.DELETE('/api/v1/team/invitations/{id}', { params: { path: { id: invitation.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    await load();
  }

  return (
    <>
      <h1>Team</h1>
      <Problem>{problem}</Problem>

      <section aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {!users ? (
          <p>Loading…</p>
        ) : (
          <div className="table-wrap">
            <table id="members">
              <thead>
                <tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
              </thead>
              <tbody>
                {users.map((u) => (
                  <tr key={u.id} data-email={u.email}>
                    <td>{u.name ?? '—'}{u.id === me.user.id && <span className="you"> (you)</span>}</td>
                    <td>{u.email}</td>
                    <td>
                      <select aria-label={`Role of ${u.email}`} className="role-select" value={u.role} disabled={!manageable(u)} onChange={(e) => void changeRole(u, e.target.value as Role)}>
                        {(manageable(u) ? grantable : ROLES).map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </td>
                    <td className="actions">
                      {removing === u.id ? (
                        <>
                          <button type="button" className="danger confirm-remove" onClick={() => void remove(u)}>Remove {u.email}</button>
                          <button type="button" className="secondary" onClick={() => setRemoving(undefined)}>Cancel</button>
                        </>
                      ) : (
                        <button type="button" className="secondary remove" disabled={!manageable(u)} onClick={() => setRemoving(u.id)} aria-label={`Remove ${u.email}`}>Remove</button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="invite-title">
        <h2 id="invite-title">Invite someone</h2>
        <form id="invite" className="inline-form" onSubmit={invite} noValidate>
          <Field label="Email" name="email" type="email" required />
          <div className="field">
            <label htmlFor="invite-role">Role</label>
            <select id="invite-role" name="role" defaultValue="agent">
              {grantable.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </div>
          <button type="submit">Invite</button>
        </form>
        {link && (
          <div className="notice" role="status" id="invite-link">
            <p>No email is set up: send {link.email} this link yourself. It works once and is not shown again.</p>
            <input readOnly aria-label={`Invitation link for ${link.email}`} value={link.link} onFocus={(e) => e.currentTarget.select()} />
          </div>
        )}
      </section>

      <section aria-labelledby="pending-title">
        <h2 id="pending-title">Pending invitations</h2>
        {invitations && invitations.length === 0 && <p>None.</p>}
        {invitations && invitations.length > 0 && (
          <ul className="invitations" id="invitations">
            {invitations.map((i) => (
              <li key={i.id} data-email={i.email}>
                <span>{i.email}</span> <span className={`role role-${i.role}`}>{i.role}</span>
                <span className="muted"> until {new Date(i.expiresAt).toLocaleDateString()}</span>
                <button type="button" className="secondary revoke" onClick={() => void revoke(i)} aria-label={`Revoke the invitation of ${i.email}`}>Revoke</button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
