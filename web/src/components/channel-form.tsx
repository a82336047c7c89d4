// The guided form of one channel type, to connect a channel or edit one: the fields that type
// needs, each saying where in Meta's app dashboard its value is found. Secrets are write-only:
// on edit they start empty and an empty one keeps the stored value. The API's 400s land on their
// fields; a token that does not own the id (422) on the id's field.
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, codeOf, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Field, formValues, Problem } from '../forms';
import { fieldErrorsOf } from './field-errors';

export type Channel = paths['/api/v1/channels/']['get']['responses'][200]['content']['application/json']['items'][number];
export type ChannelType = Channel['type'];
type CreateBody = paths['/api/v1/channels/']['post']['requestBody']['content']['application/json'];
type UpdateBody = NonNullable<paths['/api/v1/channels/{id}']['patch']['requestBody']>['content']['application/json'];

export const TYPE_NAMES: Record<ChannelType, string> = { whatsapp: 'WhatsApp', messenger: 'Messenger', instagram: 'Instagram', webchat: 'Web chat' };

interface FieldSpec {
  name: 'phoneNumberId' | 'wabaId' | 'accessToken' | 'pageId' | 'instagramAccountId' | 'pageAccessToken' | 'appSecret' | 'verifyToken' | 'allowedOrigins';
  label: string;
  hint: ReactNode;
  secret?: boolean;
  numeric?: boolean;
}

const APP_SECRET: FieldSpec = {
  name: 'appSecret',
  label: 'App secret',
  hint: 'App dashboard → App settings → Basic → App secret (Show). It proves that a webhook delivery comes from Meta.',
  secret: true,
};

const verifyToken = (where: string): FieldSpec => ({
  name: 'verifyToken',
  label: 'Verify token',
  hint: `A phrase of your choice, 8 or more characters without spaces (one is suggested). You paste it next to the webhook URL in ${where}; Meta sends it back once to check the URL.`,
});

const FIELDS: Record<ChannelType, readonly FieldSpec[]> = {
  whatsapp: [
    {
      name: 'phoneNumberId',
      label: 'Phone number ID',
      hint: 'App dashboard → WhatsApp → API Setup: "Phone number ID" under the number you send from (digits, not the phone number itself).',
      numeric: true,
    },
    { name: 'wabaId', label: 'WhatsApp Business Account ID', hint: 'Same page (WhatsApp → API Setup): "WhatsApp Business Account ID".', numeric: true },
    {
      name: 'accessToken',
      label: 'Access token',
      hint: 'A permanent token of a system user with whatsapp_business_messaging and whatsapp_business_management: Business settings → Users → System users → Generate new token. The temporary token on API Setup expires within a day.',
      secret: true,
    },
    APP_SECRET,
    verifyToken('WhatsApp → Configuration → Webhook'),
  ],
  messenger: [
    {
      name: 'pageId',
      label: 'Page ID',
      hint: 'App dashboard → Messenger → Messenger API Settings → Generate access tokens lists each connected Page with its ID (also on the Page: About → Page transparency).',
      numeric: true,
    },
    {
      name: 'pageAccessToken',
      label: 'Page access token',
      hint: 'Same place: Generate token next to the Page (the app needs pages_messaging).',
      secret: true,
    },
    APP_SECRET,
    verifyToken('Messenger → Messenger API Settings → Configure webhooks'),
  ],
  instagram: [
    {
      name: 'instagramAccountId',
      label: 'Instagram account ID',
      hint: 'App dashboard → Messenger → Instagram settings lists each connected Instagram professional account with its ID (also: Graph API Explorer, GET /{page-id}?fields=instagram_business_account).',
      numeric: true,
    },
    {
      name: 'pageId',
      label: 'Facebook Page ID',
      hint: 'The Page the Instagram account is linked to (Instagram app → Settings → Business tools → Connect a Facebook Page; its ID under About → Page transparency). Replies are sent through it.',
      numeric: true,
    },
    {
      name: 'pageAccessToken',
      label: 'Page access token',
      hint: "That Page's token, generated in the app dashboard (the app needs instagram_basic, instagram_manage_messages and pages_manage_metadata).",
      secret: true,
    },
    APP_SECRET,
    verifyToken('Messenger → Instagram settings → Webhooks (the Instagram object)'),
  ],
  webchat: [
    {
      name: 'allowedOrigins',
      label: 'Sites that may embed the chat',
      hint: 'Their origins, separated by spaces or commas: https://shop.example.com (scheme, host and port if any; no path). Empty: only the preview on this page.',
    },
  ],
};

const KNOWN = ['name', 'status', ...new Set(Object.values(FIELDS).flatMap((f) => f.map((s) => s.name)))];

/** A verify token to suggest: 144 random bits, base64url. */
export function suggestVerifyToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

/** The API's validation messages in a person's words. */
function plain(message: string): string {
  if (/received undefined/.test(message)) return 'Required.';
  const min = />=\s*(\d+) characters/.exec(message);
  if (min) return min[1] === '1' ? 'Required.' : `At least ${min[1]} characters.`;
  const max = /<=\s*(\d+) (characters|items)/.exec(message);
  if (max) return `At most ${max[1]} ${max[2]}.`;
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}${/[.!?]$/.test(message) ? '' : '.'}`;
}

const originsOf = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** What a field starts with: the stored value, except secrets (never shown back) and a suggested verify token. */
function initialValue(spec: FieldSpec, channel: Channel | undefined, suggestedVerifyToken: string): string {
  if (spec.secret) return '';
  if (spec.name === 'verifyToken') return suggestedVerifyToken;
  if (spec.name === 'allowedOrigins') return (channel?.allowedOrigins ?? []).join(' ');
  const publicId = spec.name === 'phoneNumberId' || spec.name === 'wabaId' || spec.name === 'pageId' || spec.name === 'instagramAccountId' ? spec.name : undefined;
  return (publicId && channel?.[publicId]) || '';
}

export interface ChannelFormProps {
  type: ChannelType;
  /** The channel to edit; absent: connect a new one. */
  channel?: Channel;
  /** After the API took it; `verifyToken` when one was set, to show while the page is open. */
  onSaved: (channel: Channel, verifyToken: string | undefined) => void;
  onCancel?: () => void;
}

export function ChannelForm({ type, channel, onSaved, onCancel }: ChannelFormProps) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const [suggested] = useState(() => (channel ? '' : suggestVerifyToken()));
  const editing = channel !== undefined;
  const formId = editing ? `edit-channel-${channel.id}` : `connect-${type}`;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const values = formValues(event.currentTarget);
    setErrors({});
    setProblem('');
    // Empty inputs are left out: on a new channel the API then says which are required, on an
    // edit an empty secret keeps the stored one.
    const given: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(values)) {
      const v = value.trim();
      if (name === 'allowedOrigins') given[name] = originsOf(v);
      else if (v !== '') given[name] = v;
    }
    const verifyTokenOf = (body: Record<string, unknown>) => (typeof body.verifyToken === 'string' ? body.verifyToken : undefined);
    setBusy(true);
    try {
      if (!editing) {
        const { data, error, response } = await api.POST('/api/v1/channels/', { body: { type, ...given } as CreateBody });
        if (data) return onSaved(data, verifyTokenOf(given));
        return showError(error, response);
      }
      const body: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(given)) {
        const before = (channel as unknown as Record<string, unknown>)[name];
        if (JSON.stringify(value) !== JSON.stringify(before)) body[name] = value;
      }
      if (Object.keys(body).length === 0) return onSaved(channel, undefined);
      const { data, error, response } = await api.PATCH('/api/v1/channels/{id}', { params: { path: { id: channel.id } }, body: body as UpdateBody });
      if (data) return onSaved(data, verifyTokenOf(body));
      return showError(error, response);
    } finally {
      setBusy(false);
    }
  }

  function showError(error: unknown, response: Response) {
    if (response.status === 400) {
      const { fields, rest } = fieldErrorsOf(error, KNOWN);
      setErrors(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, plain(v)])));
      setProblem(Object.keys(fields).length ? (rest ? plain(rest) : 'Some values need a change: see the fields marked below.') : problemOf(error, response));
      return;
    }
    if (codeOf(error) === 'channel_not_owned') {
      const idField = type === 'whatsapp' ? 'phoneNumberId' : type === 'instagram' ? 'instagramAccountId' : 'pageId';
      setErrors({ [idField]: problemOf(error, response) });
      setProblem('Meta says the token does not own this id: check both against the app dashboard.');
      return;
    }
    setProblem(problemOf(error, response));
  }

  const specs = FIELDS[type];
  return (
    <form id={formId} className="channel-form" onSubmit={submit} noValidate aria-label={editing ? `Edit ${channel.name}` : `Connect ${TYPE_NAMES[type]}`}>
      <Problem>{problem}</Problem>
      <Field
        label="Name"
        name="name"
        defaultValue={channel?.name ?? ''}
        hint={`Only for your team, e.g. "${type === 'webchat' ? 'Shop chat' : 'Support line'}".`}
        error={errors.name}
        autoComplete="off"
      />
      {specs.map((spec) => {
        const writeOnly = spec.secret || spec.name === 'verifyToken';
        const keepHint = editing && writeOnly ? ' Leave empty to keep the stored one.' : '';
        return (
          <Field
            key={spec.name}
            label={spec.label}
            name={spec.name}
            defaultValue={initialValue(spec, channel, suggested)}
            hint={<>{spec.hint}{keepHint}</>}
            error={errors[spec.name]}
            autoComplete="off"
            spellCheck={false}
            {...(spec.secret && { type: 'password', placeholder: editing ? 'unchanged' : '' })}
            {...(spec.numeric && { inputMode: 'numeric' as const })}
          />
        );
      })}
      {editing && (
        <div className="field">
          <label htmlFor={`${formId}-status`}>Status</label>
          <select id={`${formId}-status`} name="status" defaultValue={channel.status}>
            <option value="active">active: receives and answers messages</option>
            <option value="disabled">disabled: nothing is received or answered</option>
          </select>
        </div>
      )}
      <div className="form-actions">
        <button type="submit" disabled={busy}>{editing ? 'Save changes' : `Connect ${TYPE_NAMES[type]}`}</button>
        {onCancel && <button type="button" className="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}
