// A value to paste somewhere else (a webhook URL, an embed snippet): read-only and selectable,
// with a button that copies it and says so. A browser that refuses the clipboard still lets a
// person select the text and copy it by hand.
import { useId, useState, type ReactNode } from 'react';
import './copy-field.css';

export function CopyField({ label, value, hint, multiline = false }: { label: string; value: string; hint?: ReactNode; multiline?: boolean }) {
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'failed'>();

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  }

  const select = (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => e.currentTarget.select();
  return (
    <div className="field copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-field-value">
        {multiline ? (
          <textarea id={id} readOnly value={value} rows={3} onFocus={select} aria-describedby={hint ? `${id}-hint` : undefined} />
        ) : (
          <input id={id} readOnly value={value} onFocus={select} aria-describedby={hint ? `${id}-hint` : undefined} />
        )}
        <button type="button" className="secondary copy" onClick={() => void copy()}>
          Copy<span className="visually-hidden"> {label}</span>
        </button>
      </div>
      {hint && <p className="hint" id={`${id}-hint`}>{hint}</p>}
      <p className="copy-status" role="status">
        {copied === 'yes' && <span className="muted">Copied.</span>}
        {copied === 'failed' && <span className="field-error">The browser did not allow copying: select the text and copy it yourself.</span>}
      </p>
    </div>
  );
}
