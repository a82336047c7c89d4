// The multi-line sibling of forms.tsx's Field: a labelled textarea whose hint and error are tied
// to it and announced.
import { useId, type ReactNode, type TextareaHTMLAttributes } from 'react';
import './text-area-field.css';

export function TextAreaField({ label, hint, error, ...textarea }: { label: string; hint?: ReactNode; error?: string | undefined } & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-invalid={error ? true : undefined} aria-describedby={described} {...textarea} />
      {hint && <p className="hint" id={`${id}-hint`}>{hint}</p>}
      {error && <p className="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}
