// A 400 validation_error of the API names each refused field by its JSON pointer in
// `error.details` ([{ path: "/endpoint", message }]): this turns it into messages by top-level
// field name, so a form shows each one at its input. Whatever names no field stays for the
// page's problem line.
import type { ApiError } from '../api/client';

export interface FieldErrors {
  /** Messages by the body's top-level field ("endpoint", "parameters", ...). */
  fields: Record<string, string>;
  /** What no field of `known` explains (empty when every detail found its field). */
  rest: string;
}

export function fieldErrorsOf(error: unknown, known: readonly string[]): FieldErrors {
  const body = (error as Partial<ApiError> | undefined)?.error;
  const details = Array.isArray(body?.details) ? (body.details as { path?: unknown; message?: unknown }[]) : [];
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const d of details) {
    const name = typeof d.path === 'string' ? d.path.split('/')[1] ?? '' : '';
    const message = typeof d.message === 'string' ? d.message : 'is not valid';
    if (known.includes(name)) fields[name] = fields[name] ? `${fields[name]}; ${message}` : message;
    else rest.push(`${typeof d.path === 'string' ? d.path : ''} ${message}`.trim());
  }
  return { fields, rest: details.length === 0 ? body?.message ?? '' : rest.join('; ') };
}
