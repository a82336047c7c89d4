// Signed WhatsApp Cloud API webhook deliveries, as Meta sends them: one text message of one
// end user per delivery, signed with X-Hub-Signature-256 over the exact bytes sent.
import { randomBytes } from 'node:crypto';
import { signatureHeader } from '../../api/webhooks/signature.ts';
import { whatsappTextBody } from '../../test/support/meta-webhooks.ts';

export interface BenchChannel {
  tenantId: string;
  channelId: string;
  phoneNumberId: string;
  appSecret: string;
  quietWindowMs: number;
}

export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

/** A unique wa_id (digits) per delivery: `run` keeps runs apart, `seq` users within a run. */
export function userId(run: number, seq: number): string {
  return `${String(run).padStart(3, '0')}${String(seq).padStart(9, '0')}`;
}

export function signedTextDelivery(channel: Pick<BenchChannel, 'phoneNumberId' | 'appSecret'>, from: string, text: string): SignedDelivery {
  const body = whatsappTextBody({ phoneNumberId: channel.phoneNumberId, from, id: `wamid.${randomBytes(12).toString('base64url')}`, text, name: 'Bench User' });
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(body, channel.appSecret) },
  };
}
