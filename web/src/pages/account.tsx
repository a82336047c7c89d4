// My account (every role; the header's name links here): change my password, with the server's
// rules shown at the field, and my sessions (device, IP, last used, this one) with sign-out of one
// or of every other. Changing the password ends the other sessions (the API does).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, codeOf, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { deviceName } from '../components/device-name';
import { Field, formValues, PASSWORD_RULES, Problem } from '../forms';
import { navigate } from '../router';
import { useSession } from '../session';
import { passwordProblem } from './password-problem';
import './account.css';

type Session = paths['/api/v1/me/sessions']['get']['responses'][200]['content']['application/json']['items'][number];

export function AccountPage({ me }: { me: Me }) {
  const { signOut } = useSession();
  const [sessions, setSessions] = useState<Session[]>();
  const [problem, setProblem] = useState('');
  const [errors, setErrors] = useState<{ current?: string; next?: string; form?: string }>({});
  const [changed, setChanged] = useState(false);

  const load = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/me/sessions');
    if (data) setSessions(data.items);
    else setProblem(problemOf(error, response));
  }, []);
  useEffect(() => void load(), [load]);

  async function changePassword(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const { currentPassword = '', newPassword = '' } = formValues(form);
    setErrors({});
    setChanged(false);
    const { error, response } = await api.PUT('/api/v1/me/password', { body: { currentPassword, newPassword } });
    if (!response.ok) {
      if (codeOf(error) === 'wrong_password') return setErrors({ current: 'This is not your current password.' });
      const refused = passwordProblem(error, response, 'newPassword');
      return setErrors(refused.field ? { next: refused.field } : { form: refused.form ?? problemOf(error, response) });
    }
    form.reset();
    setChanged(true);
    await load();
  }

  async function end(session: Session) {
    setProblem('');
    if (session.current) {
      await signOut();
      return navigate('/sign-in', { replace: true });
    }
    const { error, response } = await api.DELETE('/api/v1/me/sessions/{id}', { params: { path: { id: session.id } } });
    // Already gone (ended elsewhere, or expired) is what was asked for.
    if (!response.ok && response.status !== 404) setProblem(problemOf(error, response));
    await load();
  }

  async function endOthers() {
    setProblem('');
    for (const s of sessions?.filter((x) => !x.current) ?? []) {
      const { error, response } = await api.DELETE('/api/v1/me/sessions/{id}', { params: { path: { id: s.id } } });
      if (!response.ok && response.status !== 404) setProblem(problemOf(error, response));
    }
    await load();
  }

  const others = sessions?.filter((s) => !s.current).length ?? 0;

  return (
    <>
      <h1>Account</h1>
      <p>
        Signed in as <strong>{me.user.email}</strong> ({me.user.role}) in {me.tenant.name}.
      </p>

      <section aria-labelledby="password-title">
        <h2 id="password-title">Change my password</h2>
        <form id="change-password" className="account-form" onSubmit={changePassword} noValidate>
          <Problem>{errors.form}</Problem>
          <Field label="Current password" name="currentPassword" type="password" autoComplete="current-password" required error={errors.current} />
          <Field label="New password" name="newPassword" type="password" autoComplete="new-password" required hint={PASSWORD_RULES} error={errors.next} />
          <button type="submit">Change password</button>
        </form>
        {changed && <p className="notice" role="status" id="password-changed">Your password is changed. Your other sessions were signed out.</p>}
      </section>

      <section aria-labelledby="sessions-title">
        <h2 id="sessions-title">My sessions</h2>
        <Problem>{problem}</Problem>
        {!sessions ? (
          <p aria-busy="true">Loading…</p>
        ) : (
          <>
            <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="sessions-title">
              <table id="sessions">
                <thead>
                  <tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
                </thead>
                <tbody>
                  {sessions.map((s) => (
                    <tr key={s.id} data-session={s.id} data-current={s.current || undefined}>
                      <th scope="row">
                        {deviceName(s.userAgent)}
                        {s.current && <span className="this-one"> (this one)</span>}
                      </th>
                      <td>{s.ip ?? '—'}</td>
                      <td><time dateTime={s.createdAt}>{new Date(s.createdAt).toLocaleString()}</time></td>
                      <td><time dateTime={s.lastSeenAt}>{new Date(s.lastSeenAt).toLocaleString()}</time></td>
                      <td className="actions">
                        <button type="button" className="secondary end-session" onClick={() => void end(s)} aria-label={s.current ? 'Sign out of this session' : `Sign out of ${deviceName(s.userAgent)} last used ${new Date(s.lastSeenAt).toLocaleString()}`}>
                          Sign out
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p>
              <button type="button" className="secondary" id="end-other-sessions" disabled={others === 0} onClick={() => void endOthers()}>
                Sign out of all other sessions
              </button>
              {others === 0 && <span className="muted"> You are signed in nowhere else.</span>}
            </p>
          </>
        )}
      </section>
    </>
  );
}
