// Password reset: without a token, ask for a link (POST /api/v1/auth/password-reset, always 202);
// with the link's #token=…, set the new password (POST /api/v1/auth/password-reset/confirm).
import { useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import { Field, formValues, PASSWORD_RULES, Problem } from '../forms';
import { Link, useHashToken } from '../router';
import { passwordProblem } from './password-problem';

export function ResetPasswordPage() {
  const token = useHashToken();
  return token ? <ConfirmReset token={token} /> : <RequestReset />;
}

function RequestReset() {
  const [sent, setSent] = useState(false);
  const [problem, setProblem] = useState('');

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { tenant = '', email = '' } = formValues(event.currentTarget);
    setProblem('');
    const { error, response } = await api.POST('/api/v1/auth/password-reset', { body: { tenant: tenant.trim(), email } });
    if (response.status === 202) setSent(true);
    else setProblem(problemOf(error, response));
  }

  return (
    <main className="card" aria-labelledby="reset-title">
      <h1 id="reset-title">Reset your password</h1>
      {sent ? (
        <p role="status" id="reset-requested">If that account exists and email is set up, a link is on its way. No email? Ask an owner or admin of your team for a reset link.</p>
      ) : (
        <form id="request-reset" onSubmit={submit} noValidate>
          <Field label="Tenant" name="tenant" autoComplete="organization" required />
          <Field label="Email" name="email" type="email" autoComplete="username" required />
          <Problem>{problem}</Problem>
          <button type="submit">Send me a link</button>
        </form>
      )}
      <p className="aside"><Link to="/sign-in">Back to sign in</Link></p>
    </main>
  );
}

function ConfirmReset({ token }: { token: string }) {
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState<{ field?: string; form?: string }>({});

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { password = '' } = formValues(event.currentTarget);
    setProblem({});
    const { error, response } = await api.POST('/api/v1/auth/password-reset/confirm', { body: { token, password } });
    if (response.status === 204) setDone(true);
    else setProblem(passwordProblem(error, response));
  }

  return (
    <main className="card" aria-labelledby="reset-title">
      <h1 id="reset-title">Choose a new password</h1>
      {done ? (
        <p role="status" id="reset-done">Your password is set, and every session you had has ended. <Link to="/sign-in">Sign in</Link> with it.</p>
      ) : (
        <form id="confirm-reset" onSubmit={submit} noValidate>
          <Field label="New password" name="password" type="password" autoComplete="new-password" required hint={PASSWORD_RULES} error={problem.field} />
          <Problem>{problem.form}</Problem>
          <button type="submit">Set password</button>
        </form>
      )}
    </main>
  );
}
