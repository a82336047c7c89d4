// A conversation's messages, oldest first: who wrote each (customer, assistant, agent) and when,
// and under an assistant's reply the passages it was answered from (document, page, the start
// of the passage).
import type { paths } from '../api/schema';

export type ThreadMessage = paths['/api/v1/conversations/{id}/messages']['get']['responses'][200]['content']['application/json']['items'][number];

const AUTHOR: Record<ThreadMessage['author'], string> = { customer: 'Customer', assistant: 'Assistant', agent: 'Agent' };

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function ConversationThread({ messages, agentName }: { messages: ThreadMessage[]; agentName: (id: string | null) => string }) {
  if (messages.length === 0) return <p className="muted">No messages yet.</p>;
  return (
    <ol className="thread" aria-label="Messages">
      {messages.map((m) => (
        <li key={m.id} className={`thread-message from-${m.author}`} data-author={m.author}>
          <p className="thread-meta">
            <span className="thread-author">{m.author === 'agent' ? `${AUTHOR.agent} · ${agentName(m.agentId)}` : AUTHOR[m.author]}</span>{' '}
            <time dateTime={m.createdAt}>{when(m.createdAt)}</time>
            {m.status === 'failed' && <span className="thread-failed"> · not delivered</span>}
          </p>
          <p className="thread-text">{m.text ?? `(${m.type})`}</p>
          {m.sources.length > 0 && (
            <div className="thread-sources">
              <p className="thread-sources-title">Sources</p>
              <ul>
                {m.sources.map((s, i) => (
                  <li key={`${s.chunkId ?? s.documentId}-${i}`} data-document={s.documentId}>
                    <span className="source-title">{s.title}{s.page ? `, p. ${s.page}` : ''}{s.section ? ` · ${s.section}` : ''}</span>
                    {s.excerpt && <blockquote>{s.excerpt}</blockquote>}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </li>
      ))}
    </ol>
  );
}
