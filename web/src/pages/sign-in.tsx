// Sign in to a tenant: its slug, an email and a password (POST /api/v1/auth/session).
import { useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import { Field, formValues, Problem } from '../forms';
import { Link, navigate } from '../router';
import { useSession } from '../session';

export function SignInPage() {
  const { signedIn } = useSession();
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { tenant = '', email = '', password = '' } = formValues(event.currentTarget);
    setBusy(true);
    setProblem('');
    const { data, error, response } = await api.POST('/api/v1/auth/session', { body: { tenant: tenant.trim(), email, password } });
    setBusy(false);
    if (!data) {
      setProblem(response.status === 401 ? 'The tenant, email or password is wrong.' : problemOf(error, response));
      return;
    }
    signedIn(data);
    navigate('/', { replace: true });
  }

  return (
    <main className="card" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      <form id="sign-in" onSubmit={submit} noValidate>
        <Field label="Tenant" name="tenant" autoComplete="organization" required hint="Your organisation's short name, as in your invitation." />
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <Problem>{problem}</Problem>
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <p className="aside"><Link to="/reset-password">Forgot your password?</Link></p>
    </main>
  );
}
