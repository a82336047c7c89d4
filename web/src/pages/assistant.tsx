// The assistant (owners and admins): every setting of the settings API in one form, their version
// history with who changed what and a restore, and a playground that answers as a customer would
// be answered, showing its sources and tool calls.
import { useCallback, useEffect, useState } from 'react';
import { api, problemOf, type Me } from '../api/client';
import { Problem } from '../forms';
import { AssistantSettingsForm, type SettingsView } from '../components/assistant-settings-form';
import { PlaygroundChat } from '../components/playground-chat';
import { SettingsHistory, type SettingsVersion } from '../components/settings-history';
import './assistant.css';

const HISTORY_PAGE = 20;

export function AssistantPage(_: { me: Me }) {
  const [view, setView] = useState<SettingsView>();
  const [versions, setVersions] = useState<SettingsVersion[]>();
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [problem, setProblem] = useState('');
  const [notice, setNotice] = useState('');

  const loadSettings = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/settings/');
    if (data) setView(data);
    else setProblem(problemOf(error, response));
  }, []);
  const loadHistory = useCallback(async () => {
    const { data, error, response } = await api.GET('/api/v1/settings/versions', { params: { query: { limit: HISTORY_PAGE } } });
    if (!data) return setProblem(problemOf(error, response));
    setVersions(data.items);
    setNextBefore(data.nextBefore);
  }, []);
  useEffect(() => {
    void loadSettings();
    void loadHistory();
  }, [loadSettings, loadHistory]);

  async function more() {
    if (nextBefore === null) return;
    const { data, error, response } = await api.GET('/api/v1/settings/versions', { params: { query: { limit: HISTORY_PAGE, before: nextBefore } } });
    if (!data) return setProblem(problemOf(error, response));
    setVersions([...(versions ?? []), ...data.items]);
    setNextBefore(data.nextBefore);
  }

  async function restore(version: number) {
    if (!view) return;
    setProblem('');
    setNotice('');
    const { data, error, response } = await api.POST('/api/v1/settings/versions/{version}/restore', { params: { path: { version } }, body: { version: view.version } });
    if (!data) {
      setProblem(problemOf(error, response));
      if (response.status === 409) await loadSettings();
      return;
    }
    setView(data);
    setNotice(`Version ${version} restored as version ${data.version}.`);
    await loadHistory();
  }

  return (
    <>
      <h1>Assistant</h1>
      <Problem>{problem}</Problem>
      <p role="status" className="notice-line" id="assistant-notice">{notice}</p>

      <section aria-labelledby="settings-title">
        <h2 id="settings-title">Settings{view && <span className="muted"> · version {view.version}</span>}</h2>
        {!view ? <p>Loading…</p> : (
          <AssistantSettingsForm
            view={view}
            onSaved={(saved) => {
              setView(saved);
              setNotice('');
              void loadHistory();
            }}
            onStale={() => void loadSettings()}
          />
        )}
      </section>

      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {!versions || !view ? <p>Loading…</p> : <SettingsHistory versions={versions} current={view.version} hasMore={nextBefore !== null} onMore={() => void more()} onRestore={restore} />}
      </section>

      <section aria-labelledby="playground-title">
        <h2 id="playground-title">Playground</h2>
        <PlaygroundChat />
      </section>
    </>
  );
}
