// The chunks of one document version as retrieval holds them (GET /api/v1/documents/{id}/chunks):
// position, size, page and section, and the text, a page at a time. Give it a `key` per version:
// its pages start over for another one.
import { useEffect, useState } from 'react';
import { api, problemOf } from '../api/client';
import type { paths } from '../api/schema';
import { Problem } from '../forms';

type ChunkPage = paths['/api/v1/documents/{id}/chunks']['get']['responses'][200]['content']['application/json'];

const PAGE_SIZE = 5;

export function ChunkPreview({ documentId, label }: { documentId: string; label: string }) {
  // The cursors of the pages before this one (undefined: the first page), for "Previous".
  const [trail, setTrail] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [page, setPage] = useState<ChunkPage>();
  const [problem, setProblem] = useState('');

  useEffect(() => {
    let current = true;
    setProblem('');
    void api
      .GET('/api/v1/documents/{id}/chunks', { params: { path: { id: documentId }, query: { limit: PAGE_SIZE, ...(cursor && { cursor }) } } })
      .then(({ data, error, response }) => {
        if (!current) return;
        if (data) setPage(data);
        else setProblem(problemOf(error, response));
      });
    return () => {
      current = false;
    };
  }, [documentId, cursor]);

  const first = trail.length * PAGE_SIZE;
  return (
    <div className="chunk-preview" id="chunk-preview" aria-label={label} role="region">
      <Problem>{problem}</Problem>
      {!page ? (
        <p>Loading…</p>
      ) : page.items.length === 0 ? (
        <p className="muted">No chunks: the version has not been split yet, or it failed.</p>
      ) : (
        <>
          <p className="muted" id="chunk-range">
            Chunks {first + 1}–{first + page.items.length} of {page.total} (embedding model {page.embeddingModel})
          </p>
          <ol className="chunks">
            {page.items.map((c) => (
              <li key={c.id} className="chunk">
                <p className="chunk-facts">
                  <strong>#{c.position + 1}</strong> · {c.characters} characters
                  {c.page !== null && <> · page {c.page}</>}
                  {c.section && <> · {c.section}</>}
                </p>
                <p className="chunk-text">{c.content}</p>
              </li>
            ))}
          </ol>
        </>
      )}
      <div className="pager">
        <button type="button" className="secondary" disabled={trail.length === 0} onClick={() => {
          setCursor(trail.at(-1));
          setTrail(trail.slice(0, -1));
        }}>Previous chunks</button>
        <button type="button" className="secondary" disabled={!page?.nextCursor} onClick={() => {
          setTrail([...trail, cursor]);
          setCursor(page?.nextCursor ?? undefined);
        }}>Next chunks</button>
      </div>
    </div>
  );
}
