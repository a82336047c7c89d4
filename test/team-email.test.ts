// Invitation and reset emails through a real SMTP conversation: nodemailer (SMTP_URL) talking to
// a local SMTP server (the smtp-server package) on a free port. The link in the mail is the only
// place its token appears; a server that refuses mail makes the invitation fail with 503 and
// leaves no invitation behind.
import getPort from 'get-port';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../lib/tenants.ts';
import { bearer, startTestApi, type TestApi } from './support/api.ts';
import { createUser, sessionFor, signIn, TEST_PASSWORD, tokenOfLink, withSession, type TestSession } from './support/team.ts';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

describe('team emails over SMTP', () => {
  let api: TestApi;
  let smtp: SMTPServer;
  const inbox: Received[] = [];
  let refuse = false;
  let tenant: { id: string; slug: string };
  let owner: TestSession;

  beforeAll(async () => {
    const port = await getPort({ host: '127.0.0.1' });
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (refuse) return callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
          inbox.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(port, '127.0.0.1', resolve));
    api = await startTestApi('team_email', { SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Acme Chat <team@acme.example.com>', APP_BASE_URL: 'https://chat.acme.example.com' });
    const created = await createTenant(api.db, { name: 'Acme', slug: `acme-${Math.random().toString(36).slice(2, 8)}` });
    tenant = { id: created.tenant.id, slug: created.tenant.slug };
    owner = await sessionFor(api.db, api.config, await createUser(api.db, tenant.id, { email: 'owner@acme.example.com', role: 'owner' }));
  });
  afterAll(async () => {
    await api?.close();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  /** The n-th mail received: its envelope, Subject header and text body (quoted-printable decoded; nodemailer sends plain text so). */
  async function nextMail(count: number) {
    await expect.poll(() => inbox.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
    const mail = inbox[count - 1]!;
    const [head = '', ...body] = mail.raw.split('\r\n\r\n');
    const subject = /^Subject: (.*)$/m.exec(head)?.[1]?.trim() ?? '';
    const text = body.join('\r\n\r\n').replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return { ...mail, subject, text };
  }

  it('emails the invitation link, which is not in the answer, and the link works once', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/api/v1/team/invitations', headers: withSession(owner), payload: { email: 'Nina@Example.com', role: 'agent' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ delivery: 'email', invitation: { email: 'nina@example.com', role: 'agent' } });
    expect(res.json().link).toBeUndefined();

    const mail = await nextMail(1);
    expect(mail.to).toEqual(['nina@example.com']);
    expect(mail.from).toBe('team@acme.example.com');
    expect(mail.subject).toBe('You are invited to Acme');
    const link = /https:\/\/chat\.acme\.example\.com\/app\/accept-invitation#token=[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
    expect(link, mail.text).toBeDefined();

    const accept = (password: string) => api.app.inject({ method: 'POST', url: '/api/v1/auth/invitation/accept', payload: { token: tokenOfLink(link!), password, name: 'Nina' } });
    const joined = await accept(TEST_PASSWORD);
    expect(joined.statusCode, joined.body).toBe(201);
    expect(joined.json().user).toMatchObject({ email: 'nina@example.com', role: 'agent', name: 'Nina' });
    expect((await accept(TEST_PASSWORD)).statusCode).toBe(400);
    expect(api.logs.join('')).not.toContain(tokenOfLink(link!));
  });

  it('emails the operator\'s owner invitation', async () => {
    const res = await api.app.inject({ method: 'POST', url: `/api/v1/tenants/${tenant.id}/invitations`, headers: bearer(api.adminKey), payload: { email: 'second-owner@example.com' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().delivery).toBe('email');
    const mail = await nextMail(2);
    expect(mail.to).toEqual(['second-owner@example.com']);
    expect(mail.text).toContain('as an owner');
  });

  it('emails a reset link to an account that asks, and nothing for an email without one', async () => {
    for (const email of ['nobody@example.com', 'nina@example.com']) {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { tenant: tenant.slug, email } });
      expect(res.statusCode).toBe(202);
    }
    const mail = await nextMail(3);
    expect(mail.to).toEqual(['nina@example.com']);
    expect(mail.subject).toBe('Reset your Acme password');
    const link = /https:\/\/chat\.acme\.example\.com\/app\/reset-password#token=[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
    const confirm = await api.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token: tokenOfLink(link!), password: 'a brand new passphrase here' } });
    expect(confirm.statusCode, confirm.body).toBe(204);
    expect((await signIn(api.app, { tenant: tenant.slug, email: 'nina@example.com', password: 'a brand new passphrase here' })).res.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox).toHaveLength(3);
  });

  it('answers 503 and keeps no invitation when the SMTP server refuses the mail', async () => {
    refuse = true;
    try {
      const res = await api.app.inject({ method: 'POST', url: '/api/v1/team/invitations', headers: withSession(owner), payload: { email: 'late@example.com', role: 'admin' } });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json().error.code).toBe('email_unavailable');
    } finally {
      refuse = false;
    }
    const pending = (await api.app.inject({ url: '/api/v1/team/invitations', headers: withSession(owner) })).json().items as { email: string }[];
    expect(pending.map((i) => i.email)).not.toContain('late@example.com');
  });
});
