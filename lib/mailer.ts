// The emails of team accounts (an invitation, a password reset link), sent through SMTP_URL with
// nodemailer. Without SMTP_URL there is no mailer: an invitation's link is then shown to whoever
// created it, and a reset link to the owner or admin who asked for it (api/routes/v1/team). The
// message text names the tenant and the link, never a password.
import nodemailer from 'nodemailer';
import type { Config } from './config.ts';
import { publicBaseUrl } from './public-urls.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** How long one delivery may take before the request answers 503 (nodemailer's defaults are minutes). */
const SMTP_TIMEOUT_MS = 10_000;

export function createMailer(config: Pick<Config, 'SMTP_URL' | 'SMTP_FROM'>): Mailer | null {
  if (!config.SMTP_URL) return null;
  const transport = nodemailer.createTransport(
    { url: config.SMTP_URL, connectionTimeout: SMTP_TIMEOUT_MS, greetingTimeout: SMTP_TIMEOUT_MS, socketTimeout: SMTP_TIMEOUT_MS },
    { from: config.SMTP_FROM },
  );
  return {
    async send(mail) {
      await transport.sendMail(mail);
    },
    close() {
      transport.close();
    },
  };
}

/** The web app's address for a link: APP_BASE_URL, else this API on localhost. */
export function appLink(config: Pick<Config, 'APP_BASE_URL' | 'PORT'>, page: 'accept-invitation' | 'reset-password', token: string): string {
  // The token travels in the fragment, which browsers never send to a server (no access log or
  // Referer carries it); the web app reads it and posts it.
  return `${publicBaseUrl(config)}/app/${page}#token=${token}`;
}

export function invitationMail(to: string, tenantName: string, role: string, link: string, expiresAt: Date): Mail {
  return {
    to,
    subject: `You are invited to ${tenantName}`,
    text: [
      `You have been invited to join ${tenantName} on Meta Chat Platform as ${role === 'agent' ? 'an agent' : `an ${role}`}.`,
      '',
      `Choose your password here: ${link}`,
      '',
      `The link works once and expires at ${expiresAt.toISOString()}. If you did not expect it, ignore this email.`,
    ].join('\n'),
  };
}

export function passwordResetMail(to: string, tenantName: string, link: string, expiresAt: Date): Mail {
  return {
    to,
    subject: `Reset your ${tenantName} password`,
    text: [
      `Someone asked to reset the password of your ${tenantName} account on Meta Chat Platform.`,
      '',
      `Choose a new password here: ${link}`,
      '',
      `The link works once and expires at ${expiresAt.toISOString()}. If it was not you, ignore this email: your password stays as it is.`,
    ].join('\n'),
  };
}
