// A labelled checkbox, the box before its text (the shared `.field input` rule would stretch it).
import type { InputHTMLAttributes, ReactNode } from 'react';
import './checkbox.css';

export function Checkbox({ label, ...input }: { label: ReactNode } & Omit<InputHTMLAttributes<HTMLInputElement>, 'type'>) {
  return (
    <label className="checkbox">
      <input type="checkbox" {...input} /> <span>{label}</span>
    </label>
  );
}
