// Form parts every page uses: a labelled field whose error is announced and tied to its input,
// and a problem line read out by screen readers when it appears.
import { useId, type InputHTMLAttributes, type ReactNode } from 'react';

export function Field({ label, hint, error, ...input }: { label: string; hint?: ReactNode; error?: string | undefined } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      {hint && <p className="hint" id={`${id}-hint`}>{hint}</p>}
      {error && <p className="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}

export function Problem({ children }: { children: ReactNode }) {
  return children ? <p className="problem" role="alert">{children}</p> : null;
}

/** The values of a submitted form, by input name. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v)]));
}

export const PASSWORD_RULES = '12 to 256 characters. Common passwords, one character repeated, runs of keys and your email are refused.';
