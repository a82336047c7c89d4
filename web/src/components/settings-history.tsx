// The settings' versions, newest first: when, who (the API key by name, the user by email), what
// changed from the version before, and a restore of any earlier one (after a confirmation). A
// restore is a new version, so it shows up here too.
import { useState } from 'react';
import type { paths } from '../api/schema';
import { flatten, labelOf } from './assistant-settings-fields';
import { Timestamp } from './timestamp';

export type SettingsVersion = paths['/api/v1/settings/versions']['get']['responses'][200]['content']['application/json']['items'][number];

/** The settings' paths whose stored value differs between two versions. */
function changedPaths(newer: SettingsVersion, older: SettingsVersion | undefined): string[] {
  if (!older) return [];
  const a = flatten(newer.settings);
  const b = flatten(older.settings);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

function authorText(v: SettingsVersion): string {
  // The settings a tenant was created with, or the operator's.
  if (v.author.kind === 'platform') return 'Platform';
  const name = v.author.name ?? v.author.id ?? 'unknown';
  return v.author.kind === 'api_key' ? `API key ${name}` : name;
}

export function SettingsHistory({ versions, current, hasMore, onMore, onRestore }: {
  versions: SettingsVersion[];
  current: number;
  hasMore: boolean;
  onMore(): void;
  onRestore(version: number): Promise<void>;
}) {
  const [confirming, setConfirming] = useState<number>();
  if (versions.length === 0) return <p id="settings-history-empty">No changes yet: the first save starts the history.</p>;
  return (
    <>
      <div className="table-wrap">
        <table id="settings-history">
          <caption className="visually-hidden">Settings versions, newest first</caption>
          <thead>
            <tr><th scope="col">Version</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">What changed</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {versions.map((v, i) => {
              const changed = changedPaths(v, versions[i + 1]);
              return (
                <tr key={v.version} data-version={v.version}>
                  <th scope="row">{v.version}{v.version === current && <span className="muted"> (current)</span>}</th>
                  <td><Timestamp at={v.createdAt} /></td>
                  <td className="author">{authorText(v)}</td>
                  <td className="changes">
                    {v.restoredFrom !== null && <span className="restored">Restored version {v.restoredFrom}. </span>}
                    {changed.length > 0 ? changed.map(labelOf).join(', ') : i === versions.length - 1 && v.restoredFrom === null ? <span className="muted">The earliest kept</span> : null}
                  </td>
                  <td className="actions">
                    {v.version === current ? null : confirming === v.version ? (
                      <>
                        <button type="button" className="confirm-restore" onClick={() => { setConfirming(undefined); void onRestore(v.version); }}>Restore version {v.version}</button>
                        <button type="button" className="secondary" onClick={() => setConfirming(undefined)}>Cancel</button>
                      </>
                    ) : (
                      <button type="button" className="secondary restore" aria-label={`Restore version ${v.version}`} onClick={() => setConfirming(v.version)}>Restore</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {hasMore && <button type="button" className="secondary" id="settings-history-more" onClick={onMore}>Older versions</button>}
    </>
  );
}
