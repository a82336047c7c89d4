// Knowledge (owners and admins): the documents the assistant answers from. Upload several at once
// (dropped or chosen), each with its progress; the list with each document's status, read again
// by itself while one is processing or after a failed read (backing off), failure reasons, retry
// and delete; a document's versions (a new one, restoring an earlier one) and chunks; and what
// the assistant would retrieve for a question.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import type { paths } from '../api/schema';
import { ChunkPreview } from '../components/chunk-preview';
import { DocumentVersions, type DocumentVersion } from '../components/document-versions';
import { FileDropZone } from '../components/file-drop-zone';
import { RetrievalPreview } from '../components/retrieval-preview';
import { uploadProblem, uploadWithProgress } from '../components/upload-with-progress';
import { Problem } from '../forms';
import './knowledge.css';

type Doc = paths['/api/v1/documents/{id}']['get']['responses'][200]['content']['application/json'];

interface Upload {
  id: number;
  name: string;
  /** 0..1 of the bytes sent. */
  share: number;
  state: 'sending' | 'sent' | 'failed';
  message?: string;
}

const ACCEPT = '.txt,.md,.markdown,.html,.htm,.pdf,.docx,text/plain,text/markdown,text/html,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const LIST_LIMIT = 100;
/** Polling while a document is processing: from 1 s, half as long again each time, at most 10 s. */
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 10_000;

const busy = (d: Doc) => d.status === 'pending' || d.status === 'processing';

function statusText(d: Doc): string {
  if (d.status === 'pending') return 'processing (queued)';
  if (d.status === 'processing') return `processing (${d.stage ?? 'working'}${d.chunkCount ? `, ${Math.round(d.progress * 100)} %` : ''})`;
  return d.status;
}

/** The live versions by document, newest version first (an older ready one answers until a newer one is ready). */
function byDocument(docs: Doc[]): Doc[][] {
  const groups = new Map<string, Doc[]>();
  for (const d of docs) groups.set(d.documentKey, [...(groups.get(d.documentKey) ?? []), d]);
  return [...groups.values()].map((g) => g.sort((a, b) => b.version - a.version));
}

export function KnowledgePage(_: { me: Me }) {
  const [docs, setDocs] = useState<Doc[]>();
  const [more, setMore] = useState(false);
  const [problem, setProblem] = useState('');
  /** Why the list could not be read, until it is read again. */
  const [listProblem, setListProblem] = useState('');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [selected, setSelected] = useState<string>();
  const [chunksOf, setChunksOf] = useState<{ id: string; label: string }>();
  const [deleting, setDeleting] = useState<string>();
  const pollDelay = useRef(POLL_FIRST_MS);
  const nextUpload = useRef(0);

  // Counts the reads of the list, answered or not: each one schedules the next poll, so a failed one does not stop them.
  const [reads, setReads] = useState(0);

  const load = useCallback(async () => {
    try {
      const { data, error, response } = await api.GET('/api/v1/documents/', { params: { query: { limit: LIST_LIMIT } } });
      if (!data) return setListProblem(problemOf(error, response));
      setListProblem('');
      setDocs(data.items);
      setMore(data.nextCursor !== null);
    } catch {
      setListProblem('The documents could not be read: the server did not answer.');
    } finally {
      setReads((n) => n + 1);
    }
  }, []);
  useEffect(() => void load(), [load]);

  const processing = docs?.some(busy) ?? false;
  // Read again while something is processing, and after a read that failed (the list may be stale).
  const polling = processing || listProblem !== '';
  useEffect(() => {
    if (!polling) {
      pollDelay.current = POLL_FIRST_MS;
      return;
    }
    const timer = setTimeout(() => {
      pollDelay.current = Math.min(POLL_MAX_MS, pollDelay.current * 1.5);
      void load();
    }, pollDelay.current);
    return () => clearTimeout(timer);
  }, [polling, reads, load]);

  const changed = () => {
    pollDelay.current = POLL_FIRST_MS;
    void load();
  };

  const setUpload = (id: number, change: Partial<Upload>) => setUploads((all) => all.map((u) => (u.id === id ? { ...u, ...change } : u)));

  /** Uploads each file at once, side by side; `to`: a new version of that document. */
  function upload(files: File[], to?: Doc) {
    setProblem('');
    for (const file of files) {
      const id = ++nextUpload.current;
      const name = to ? `${file.name} (new version of ${to.title})` : file.name;
      setUploads((all) => [{ id, name, share: 0, state: 'sending' }, ...all]);
      const url = to ? `/api/v1/documents/${to.id}/versions` : '/api/v1/documents';
      void uploadWithProgress(url, file, (share) => setUpload(id, { share })).then((result) => {
        if (result.ok) setUpload(id, { share: 1, state: 'sent', message: 'Uploaded; its status is in the list below.' });
        else setUpload(id, { state: 'failed', message: uploadProblem(result) });
        changed();
      });
    }
  }

  async function retry(d: Doc) {
    setProblem('');
    const { error, response } = await api.POST('/api/v1/documents/{id}/retry', { params: { path: { id: d.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    changed();
  }

  async function remove(d: Doc) {
    setProblem('');
    setDeleting(undefined);
    const { error, response } = await api.DELETE('/api/v1/documents/{id}', { params: { path: { id: d.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    if (selected === d.documentKey) {
      setSelected(undefined);
      setChunksOf(undefined);
    }
    changed();
  }

  function inspect(d: Doc) {
    setSelected(d.documentKey);
    setChunksOf({ id: d.id, label: `Chunks of ${d.title}, version ${d.version}` });
  }

  const groups = docs ? byDocument(docs) : [];
  const current = groups.find((g) => g[0]!.documentKey === selected);
  const shown = current?.[0];

  return (
    <div className="knowledge">
      <h1>Knowledge</h1>
      <p className="muted">The documents the assistant answers from. Text, Markdown, HTML, PDF and DOCX files.</p>
      <Problem>{problem}</Problem>

      <section aria-labelledby="upload-title">
        <h2 id="upload-title">Upload documents</h2>
        <FileDropZone id="drop-zone" label="Choose files to upload" accept={ACCEPT} onFiles={(files) => upload(files)} hint="Several at once; each is processed on its own." />
        {uploads.length > 0 && (
          <ul className="uploads" id="uploads" aria-label="Uploads">
            {uploads.map((u) => (
              <li key={u.id} className={`upload upload-${u.state}`} data-name={u.name}>
                <span className="upload-name">{u.name}</span>
                <progress max={1} value={u.share} aria-label={`Upload of ${u.name}`} />
                <span className="upload-state" role={u.state === 'failed' ? 'alert' : 'status'}>
                  {u.state === 'sending' ? `${Math.round(u.share * 100)} %` : u.message}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="documents-title">
        <h2 id="documents-title">Documents</h2>
        <Problem>{listProblem}</Problem>
        {!docs ? (
          <p>Loading…</p>
        ) : groups.length === 0 ? (
          <p id="no-documents">No documents yet.</p>
        ) : (
          <div className="table-wrap">
            <table id="documents">
              <thead>
                <tr><th scope="col">Title</th><th scope="col">Status</th><th scope="col">Version</th><th scope="col">Chunks</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
              </thead>
              <tbody>
                {groups.map(([d, ...older]) => (
                  <tr key={d!.documentKey} data-title={d!.title} data-status={d!.status} aria-current={selected === d!.documentKey ? 'true' : undefined}>
                    <td data-label="Title">
                      <span className="doc-title">{d!.title}</span>
                      {d!.filename && <span className="muted doc-file">{d!.filename}</span>}
                    </td>
                    <td data-label="Status">
                      <span className={`status status-${d!.status}`}>{statusText(d!)}</span>
                      {d!.status === 'failed' && d!.error && <p className="failure">{d!.error}</p>}
                      {older.some((o) => o.status === 'ready') && <p className="muted small">Version {older.find((o) => o.status === 'ready')!.version} answers until this one is ready.</p>}
                    </td>
                    <td data-label="Version" className="doc-version">{d!.version}</td>
                    <td data-label="Chunks">{d!.chunkCount}</td>
                    <td className="actions">
                      <button type="button" className="secondary inspect" onClick={() => inspect(d!)} aria-label={`Details of ${d!.title}`}>Details</button>
                      {d!.status === 'failed' && <button type="button" className="secondary retry" onClick={() => void retry(d!)} aria-label={`Retry ${d!.title}`}>Retry</button>}
                      {deleting === d!.documentKey ? (
                        <>
                          <button type="button" className="danger confirm-delete" onClick={() => void remove(d!)}>Delete {d!.title}</button>
                          <button type="button" className="secondary" onClick={() => setDeleting(undefined)}>Cancel</button>
                        </>
                      ) : (
                        <button type="button" className="secondary delete" onClick={() => setDeleting(d!.documentKey)} aria-label={`Delete ${d!.title}`}>Delete</button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {more && <p className="muted">Showing the newest {LIST_LIMIT} documents.</p>}
        {processing && <p className="muted" role="status">Processing… this list updates by itself.</p>}
      </section>

      {shown && (
        <section aria-labelledby="detail-title" id="document-detail">
          <h2 id="detail-title">{shown.title}</h2>
          <h3>Versions</h3>
          <DocumentVersions
            documentId={shown.id}
            refresh={current!.map((d) => `${d.id}:${d.status}`).join()}
            onRestored={changed}
            shownChunks={chunksOf?.id}
            onShowChunks={(v: DocumentVersion) => setChunksOf({ id: v.id, label: `Chunks of ${v.title}, version ${v.version}` })}
          />
          <FileDropZone id="version-drop-zone" label="Choose a file for a new version" accept={ACCEPT} multiple={false} onFiles={(files) => upload(files, shown)} hint="The current version answers until the new one is ready." />
          {chunksOf && (
            <>
              <h3>{chunksOf.label}</h3>
              <ChunkPreview key={chunksOf.id} documentId={chunksOf.id} label={chunksOf.label} />
            </>
          )}
        </section>
      )}

      <section aria-labelledby="retrieval-title">
        <h2 id="retrieval-title">What would the assistant retrieve?</h2>
        <RetrievalPreview />
      </section>
    </div>
  );
}
