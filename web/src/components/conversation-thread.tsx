// A conversation's messages, oldest first: who wrote each (customer, assistant, agent) and when,
// its file (an image inline, anything else as a link to download; a voice note's transcript), and
// under an assistant's reply the passages it was answered from (document, page, the start of the
// passage).
import type { paths } from '../api/schema';

export type ThreadMessage = paths['/api/v1/conversations/{id}/messages']['get']['responses'][200]['content']['application/json']['items'][number];

const AUTHOR: Record<ThreadMessage['author'], string> = { customer: 'Customer', assistant: 'Assistant', agent: 'Agent' };

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const MEDIA_TYPES = ['image', 'audio', 'video', 'document', 'sticker'];

/** A message's file as its content records it: an end user's media, or an agent's attachment. */
type StoredFile = { status: 'stored'; mimeType: string; filename: string } | { status: 'refused' | 'failed'; reason: string };

function fileOf(m: ThreadMessage): StoredFile | undefined {
  const content = (m.content ?? {}) as { media?: StoredFile; attachment?: { mimeType: string; filename: string } };
  return content.media ?? (content.attachment && { status: 'stored', ...content.attachment });
}

function MessageFile({ message }: { message: ThreadMessage }) {
  const file = fileOf(message);
  const transcript = (message.content as { transcript?: unknown } | null)?.transcript;
  if (!file) return MEDIA_TYPES.includes(message.type) ? <p className="thread-file muted">Fetching the {message.type}…</p> : null;
  if (file.status !== 'stored') return <p className="thread-file muted">The {message.type} could not be received ({file.reason.split(':')[0]?.replaceAll('_', ' ')}).</p>;
  // The session cookie goes with the request: the route checks the tenant like any other.
  const url = `/api/v1/conversations/${message.conversationId}/messages/${message.id}/media`;
  return (
    <div className="thread-file">
      {file.mimeType.startsWith('image/') ? (
        <a href={url} target="_blank" rel="noreferrer">
          <img src={url} alt={file.filename} loading="lazy" className="thread-image" />
        </a>
      ) : (
        <a href={url} download={file.filename}>
          {file.filename}
        </a>
      )}
      {typeof transcript === 'string' && <p className="thread-transcript">“{transcript}”</p>}
    </div>
  );
}

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
          {(m.text || (!fileOf(m) && !MEDIA_TYPES.includes(m.type))) && <p className="thread-text">{m.text || `(${m.type})`}</p>}
          <MessageFile message={m} />
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
