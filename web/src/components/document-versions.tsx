// A document's versions (GET /api/v1/documents/{id}/versions): which one retrieval uses, which were
// replaced, restoring a replaced one (POST …/restore: its kept chunks become the live ones again),
// and the chunks of any of them.
import { useEffect, useState } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Problem } from '../forms';

export type DocumentVersion = paths['/api/v1/documents/{id}/versions']['get']['responses'][200]['content']['application/json']['items'][number];

export function DocumentVersions({ documentId, refresh, onRestored, onShowChunks, shownChunks }: {
  /** Any version of the document. */
  documentId: string;
  /** Changes when the document changed elsewhere (a new version, a status): the list is read again. */
  refresh: string;
  onRestored: () => void;
  onShowChunks: (version: DocumentVersion) => void;
  shownChunks: string | undefined;
}) {
  const [versions, setVersions] = useState<DocumentVersion[]>();
  const [problem, setProblem] = useState('');
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let current = true;
    void api.GET('/api/v1/documents/{id}/versions', { params: { path: { id: documentId }, query: { limit: 100 } } }).then(({ data, error, response }) => {
      if (!current) return;
      if (data) setVersions(data.items);
      else setProblem(problemOf(error, response));
    });
    return () => {
      current = false;
    };
  }, [documentId, refresh, reload]);

  async function restore(v: DocumentVersion) {
    setProblem('');
    const { error, response } = await api.POST('/api/v1/documents/{id}/restore', { params: { path: { id: v.id } } });
    if (!response.ok) setProblem(problemOf(error, response));
    setReload((n) => n + 1);
    onRestored();
  }

  return (
    <>
      <Problem>{problem}</Problem>
      {!versions ? (
        <p>Loading…</p>
      ) : (
        <div className="table-wrap">
          <table id="versions">
            <thead>
              <tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Uploaded</th><th scope="col">In use</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.id} data-version={v.version}>
                  <th scope="row">{v.version}</th>
                  <td><span className={`status status-${v.status}`}>{v.status}</span></td>
                  <td><time dateTime={v.createdAt}>{new Date(v.createdAt).toLocaleString()}</time></td>
                  <td>{v.deletedAt ? <span className="muted">replaced</span> : <strong>live</strong>}</td>
                  <td className="actions">
                    <button type="button" className="secondary" aria-pressed={shownChunks === v.id} onClick={() => onShowChunks(v)} aria-label={`Chunks of version ${v.version}`}>Chunks</button>
                    {v.deletedAt && v.status === 'ready' && (
                      <button type="button" className="restore" onClick={() => void restore(v)} aria-label={`Restore version ${v.version}`}>Restore</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
