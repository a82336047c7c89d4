// `npm run webhook -- <whatsapp|messenger|instagram> <phone_number_id|page_id|instagram_account_id> <app_secret> <from> <text…>`:
// sends one end-user text message to a running API the way Meta does (signed with the app
// secret), to try a channel without a Meta app. API_URL defaults to http://127.0.0.1:3000.
import { randomBytes } from 'node:crypto';
import { signatureHeader } from '../api/webhooks/signature.ts';

const [channel, publicId, appSecret, from, ...words] = process.argv.slice(2);
if ((channel !== 'whatsapp' && channel !== 'messenger' && channel !== 'instagram') || !publicId || !appSecret || !from || words.length === 0) {
  console.error('Usage: npm run webhook -- <whatsapp|messenger|instagram> <phone_number_id|page_id|instagram_account_id> <app_secret> <from> <text…>');
  process.exit(1);
}
const text = words.join(' ');
const now = Date.now();
const body =
  channel === 'whatsapp'
    ? {
        object: 'whatsapp_business_account',
        entry: [{ id: 'waba', changes: [{ field: 'messages', value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: publicId, phone_number_id: publicId },
          contacts: [{ profile: { name: from }, wa_id: from }],
          messages: [{ from, id: `wamid.${randomBytes(12).toString('hex')}`, timestamp: String(Math.floor(now / 1000)), type: 'text', text: { body: text } }],
        } }] }],
      }
    : {
        // Instagram's messaging events have Messenger's shape; the account id names the channel.
        object: channel === 'instagram' ? 'instagram' : 'page',
        entry: [{ id: publicId, time: now, messaging: [{ sender: { id: from }, recipient: { id: publicId }, timestamp: now, message: { mid: `m_${randomBytes(12).toString('hex')}`, text } }] }],
      };
const payload = JSON.stringify(body);
const res = await fetch(`${process.env.API_URL ?? 'http://127.0.0.1:3000'}/webhooks/${channel}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureHeader(payload, appSecret) },
  body: payload,
});
console.log(`${res.status} ${await res.text()}`);
process.exit(res.ok ? 0 : 1);
