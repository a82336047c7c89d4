// A secret the API returns once (an API key, a webhook signing secret): shown with a warning that
// it will not be shown again and a button that copies it. The field stays selectable, so a
// browser that refuses the clipboard still lets a person copy it by hand.
import { useState } from 'react';
import './shown-once.css';

export function ShownOnce({ id, label, value, children }: { id: string; label: string; value: string; children: string }) {
  const [copied, setCopied] = useState<'yes' | 'failed'>();

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  }

  return (
    <div className="notice shown-once" role="status" id={id}>
      <p><strong>{children}</strong> It is shown only now: store it before you leave this page.</p>
      <div className="shown-once-value">
        <input readOnly aria-label={label} value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" className="secondary copy" onClick={() => void copy()}>Copy</button>
      </div>
      {copied === 'yes' && <p className="muted copied">Copied.</p>}
      {copied === 'failed' && <p className="field-error">The browser did not allow copying: select the text and copy it yourself.</p>}
    </div>
  );
}
