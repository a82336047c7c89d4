// The page an invitation links to (/app/accept-invitation#token=…): a name and a password, and the
// new user is signed in (POST /api/v1/auth/invitation/accept).
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { Field, formValues, PASSWORD_RULES, Problem } from '../forms';
import { Link, navigate, useHashToken } from '../router';
import { useSession } from '../session';
import { passwordProblem } from './password-problem';

export function AcceptInvitationPage() {
  const { signedIn } = useSession();
  const token = useHashToken();
  const [problem, setProblem] = useState<{ field?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);

  if (!token) {
    return (
      <main className="card">
        <h1>Accept an invitation</h1>
        <Problem>This link has no invitation in it. Open the link from your invitation again.</Problem>
        <p className="aside"><Link to="/sign-in">Sign in</Link></p>
      </main>
    );
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { name = '', password = '' } = formValues(event.currentTarget);
    setBusy(true);
    setProblem({});
    const { data, error, response } = await api.POST('/api/v1/auth/invitation/accept', { body: { token: token!, password, ...(name.trim() ? { name: name.trim() } : {}) } });
    setBusy(false);
    if (!data) {
      setProblem(passwordProblem(error, response));
      return;
    }
    signedIn(data);
    navigate('/', { replace: true });
  }

  return (
    <main className="card" aria-labelledby="accept-title">
      <h1 id="accept-title">Join your team</h1>
      <p>Choose the name your team sees and a password.</p>
      <form id="accept-invitation" onSubmit={submit} noValidate>
        <Field label="Your name" name="name" autoComplete="name" />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required hint={PASSWORD_RULES} error={problem.field} />
        <Problem>{problem.form}</Problem>
        <button type="submit" disabled={busy}>{busy ? 'Joining…' : 'Join'}</button>
      </form>
    </main>
  );
}
