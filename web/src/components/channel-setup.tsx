// What to do with a connected channel outside the platform. WhatsApp, Messenger and Instagram: the webhook
// URL and verify token to paste into the Meta app's webhook settings, and a test of the stored
// token against the Graph API. Web chat: the snippet to paste into the tenant's site and a live
// preview of the widget as a visitor sees it.
//
// The verify token is kept by the API only as its SHA-256, so it can be shown only while the page
// still holds the one just set; otherwise a new one can be made here (deliveries do not depend on
// it: Meta uses it once, when the webhook URL is verified).
import { useState } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Problem } from '../forms';
import { suggestVerifyToken, TYPE_NAMES, type Channel } from './channel-form';
import { CopyField } from './copy-field';

type TestResult = paths['/api/v1/channels/{id}/test']['post']['responses'][200]['content']['application/json'];

const PROBLEM_TITLES: Record<NonNullable<TestResult['problem']>['kind'], string> = {
  invalid_token: 'The token is not valid',
  missing_permission: 'A permission is missing',
  wrong_id: 'The id does not match',
  throttled: 'Meta is throttling this app',
  unreachable: 'Meta could not be reached',
  token_unreadable: 'The stored token cannot be read',
  graph_error: 'Meta refused the request',
};

const WEBHOOK_PLACE = {
  whatsapp: { where: 'WhatsApp → Configuration → Webhook → Edit', fields: 'messages' },
  messenger: { where: 'Messenger → Messenger API Settings → Configure webhooks', fields: 'messages, messaging_postbacks' },
  instagram: { where: 'Webhooks, the Instagram object', fields: 'messages, messaging_postbacks, message_reactions, messaging_seen' },
} as const;

export function ChannelSetup({ channel, verifyToken, onVerifyToken }: { channel: Channel; verifyToken: string | undefined; onVerifyToken: (token: string) => void }) {
  return channel.type === 'webchat' ? <WebChatSetup channel={channel} /> : <MetaSetup channel={channel} verifyToken={verifyToken} onVerifyToken={onVerifyToken} />;
}

function MetaSetup({ channel, verifyToken, onVerifyToken }: { channel: Channel; verifyToken: string | undefined; onVerifyToken: (token: string) => void }) {
  const [problem, setProblem] = useState('');
  const [result, setResult] = useState<TestResult>();
  const [testing, setTesting] = useState(false);
  const place = WEBHOOK_PLACE[channel.type as keyof typeof WEBHOOK_PLACE];

  async function newVerifyToken() {
    setProblem('');
    const token = suggestVerifyToken();
    const { data, error, response } = await api.PATCH('/api/v1/channels/{id}', { params: { path: { id: channel.id } }, body: { verifyToken: token } });
    if (data) onVerifyToken(token);
    else setProblem(problemOf(error, response));
  }

  async function test() {
    setProblem('');
    setResult(undefined);
    setTesting(true);
    const { data, error, response } = await api.POST('/api/v1/channels/{id}/test', { params: { path: { id: channel.id } } });
    setTesting(false);
    if (data) setResult(data);
    else setProblem(problemOf(error, response));
  }

  return (
    <div className="channel-setup">
      <h3>Webhook</h3>
      <p>
        In the Meta app dashboard, open <strong>{place.where}</strong>, paste these two values, choose <em>Verify and save</em>, then
        subscribe to the <strong>{place.fields}</strong> field{place.fields.includes(',') ? 's' : ''}.
      </p>
      {channel.webhookUrl && <CopyField label="Callback URL" value={channel.webhookUrl} />}
      {verifyToken ? (
        <CopyField label="Verify token" value={verifyToken} hint="Shown while this page is open: the platform keeps only its fingerprint." />
      ) : (
        <div className="field">
          <p className="field-label">Verify token</p>
          <p className="hint">
            {channel.hasVerifyToken ? 'Set, and not shown again: the platform keeps only its fingerprint.' : 'None set.'} A new one replaces it; messages keep
            flowing, Meta asks for it only when the callback URL is verified again.
          </p>
          <button type="button" className="secondary new-verify-token" onClick={() => void newVerifyToken()}>Make a new verify token</button>
        </div>
      )}

      <h3>Connection</h3>
      <p className="hint">Asks Meta with the stored token what this {TYPE_NAMES[channel.type]} channel sends as.</p>
      <button type="button" className="test-connection" onClick={() => void test()} disabled={testing}>
        {testing ? 'Testing…' : 'Test connection'}
      </button>
      <Problem>{problem}</Problem>
      <div className="test-result" role="status" aria-live="polite">
        {result?.ok && result.found && (
          <p className="test-ok">
            <strong>Connected.</strong>{' '}
            {channel.type === 'whatsapp'
              ? `Meta knows this number as ${[result.found.displayPhoneNumber, result.found.verifiedName].filter(Boolean).join(', ') || result.found.id}.`
              : channel.type === 'instagram'
                ? `The page's linked Instagram account is ${result.found.name ? `@${result.found.name} ` : ''}(${result.found.id}).`
                : `The token is the page ${result.found.name ?? ''} (${result.found.id}).`}
          </p>
        )}
        {result && !result.ok && result.problem && (
          <div className="test-failed">
            <p><strong>{PROBLEM_TITLES[result.problem.kind]}.</strong> {result.problem.message}</p>
            {result.problem.graphCode !== null && (
              <p className="muted">
                Graph API error {result.problem.graphCode}
                {result.problem.graphSubcode !== null && `, subcode ${result.problem.graphSubcode}`}
                {result.problem.fbtraceId && `, trace ${result.problem.fbtraceId}`}
              </p>
            )}
          </div>
        )}
      </div>
    </div>
  );
}

function WebChatSetup({ channel }: { channel: Channel }) {
  if (!channel.widgetUrl || !channel.widgetId) return null;
  const snippet = `<iframe src="${channel.widgetUrl}" title="Chat" style="width:360px;height:520px;border:0"></iframe>`;
  const origins = channel.allowedOrigins;
  return (
    <div className="channel-setup">
      <h3>Embed</h3>
      <CopyField
        label="Snippet for your site"
        value={snippet}
        multiline
        hint={
          origins.length
            ? `Paste it into the pages of ${origins.join(', ')} where the chat should appear.`
            : 'No site may embed it yet: add your site under "Sites that may embed the chat" (Edit).'
        }
      />
      <h3>Preview</h3>
      <p className="hint">The widget as a visitor sees it. A message sent here starts a real conversation.</p>
      {channel.status === 'disabled' && <p className="hint">The channel is disabled: the widget says it is unavailable.</p>}
      {/* The API's own page, at this origin: the app's policy frames only 'self'. */}
      <iframe className="widget-preview" src={`/webchat/widget/${encodeURIComponent(channel.widgetId)}`} title={`Preview of the ${channel.name} chat widget`} />
    </div>
  );
}
