// The inbox composer once WhatsApp's 24-hour customer service window has closed: free text would
// be refused, so the agent picks one of the channel's approved templates and fills its
// placeholders. The API checks the values against the template (its 400 names the field), sends it
// and stores it in the thread with its text.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';

type Template = paths['/api/v1/channels/{id}/templates']['get']['responses'][200]['content']['application/json']['data'][number];

/** 24 hours: WhatsApp's customer service window. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Whether a WhatsApp conversation's window is closed (the customer last wrote over 24 hours ago, or never). */
export function serviceWindowClosed(conversation: { channel: string; lastInboundAt: string | null }, now = Date.now()): boolean {
  return conversation.channel === 'whatsapp' && (conversation.lastInboundAt === null || now - Date.parse(conversation.lastInboundAt) >= SERVICE_WINDOW_MS);
}

const newKey = () => crypto.randomUUID();

export function TemplateComposer({ conversationId, channelId, onSent }: { conversationId: string; channelId: string; onSent: () => Promise<void> }) {
  const [templates, setTemplates] = useState<Template[]>();
  const [chosen, setChosen] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  // One key per message until the API answers it: sending again after an error retries it.
  const key = useRef(newKey());

  useEffect(() => {
    let current = true;
    void api.GET('/api/v1/channels/{id}/templates', { params: { path: { id: channelId }, query: { status: 'APPROVED' } } }).then(({ data, error, response }) => {
      if (!current) return;
      if (data) setTemplates(data.data);
      else setProblem(`Templates could not be loaded: ${problemOf(error, response)}`);
    });
    return () => {
      current = false;
    };
  }, [channelId]);

  const template = templates?.find((t) => t.id === chosen);
  const fields = template ? [...template.placeholders.header.map((p) => ({ part: 'header' as const, name: p })), ...template.placeholders.body.map((p) => ({ part: 'body' as const, name: p }))] : [];

  function parameters() {
    if (!template) return undefined;
    const part = (which: 'header' | 'body') => {
      const names = template.placeholders[which];
      if (names.length === 0) return undefined;
      return template.parameterFormat === 'NAMED' ? Object.fromEntries(names.map((n) => [n, values[`${which}.${n}`] ?? ''])) : names.map((n) => values[`${which}.${n}`] ?? '');
    };
    const header = part('header');
    const body = part('body');
    return { ...(header && { header }), ...(body && { body }) };
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    if (!template) return;
    setBusy(true);
    setProblem('');
    const { data, error, response } = await api.POST('/api/v1/conversations/{id}/template-messages', {
      params: { path: { id: conversationId }, header: { 'idempotency-key': key.current } },
      body: { template: { name: template.name, language: template.language }, parameters: parameters() },
    });
    setBusy(false);
    if (!data) {
      setProblem(`Not sent: ${problemOf(error, response)}`);
      return;
    }
    key.current = newKey();
    setValues({});
    if (data.status === 'failed') setProblem(`Not sent: the channel refused the template (${data.reason ?? 'failed'}).`);
    await onSent();
  }

  return (
    <form id="template-reply" className="reply" onSubmit={(e) => void send(e)}>
      <p className="hint" id="template-hint">
        The customer last wrote more than 24 hours ago: WhatsApp takes only an approved template until they write again.
      </p>
      {problem && <p className="problem" role="alert">{problem}</p>}
      {!templates ? (
        !problem && <p>Loading templates…</p>
      ) : templates.length === 0 ? (
        <p className="muted">This number has no approved templates. Create one in WhatsApp Manager; they are synced every hour.</p>
      ) : (
        <>
          <div className="field">
            <label htmlFor="template-choice">Template</label>
            <select id="template-choice" value={chosen} aria-describedby="template-hint" onChange={(e) => (setChosen(e.target.value), setValues({}))}>
              <option value="">Choose a template</option>
              {templates.map((t) => (
                <option key={t.id} value={t.id}>{`${t.name} (${t.language})`}</option>
              ))}
            </select>
          </div>
          {fields.map((f) => (
            <div className="field" key={`${f.part}.${f.name}`}>
              <label htmlFor={`template-${f.part}-${f.name}`}>{`${f.part === 'header' ? 'Header' : 'Body'} {{${f.name}}}`}</label>
              <input
                id={`template-${f.part}-${f.name}`}
                required
                maxLength={1024}
                value={values[`${f.part}.${f.name}`] ?? ''}
                onChange={(e) => setValues((v) => ({ ...v, [`${f.part}.${f.name}`]: e.target.value }))}
              />
            </div>
          ))}
          <button type="submit" disabled={busy || !template}>Send template</button>
        </>
      )}
    </form>
  );
}
