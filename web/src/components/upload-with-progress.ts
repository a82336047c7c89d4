// Sends one file as a multipart upload and reports how much of it has gone. openapi-fetch (and
// fetch itself) cannot report upload progress, so this one call uses XMLHttpRequest; it sends the
// session's CSRF token like every other write (api/client.ts) and hands back the API's answer.
import { currentCsrfToken, type ApiError } from '../api/client';

export interface UploadResult {
  ok: boolean;
  status: number;
  /** The API's JSON answer (the document, or its error body); undefined when none came back. */
  body: unknown;
  /** Retry-After of a 429, in seconds. */
  retryAfter?: number;
}

/** POSTs `file` (as the `file` part) to `url`; `onProgress` gets 0..1 as the bytes go out. */
export function uploadWithProgress(url: string, file: File, onProgress: (share: number) => void): Promise<UploadResult> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.withCredentials = true;
    const token = currentCsrfToken();
    if (token) xhr.setRequestHeader('x-csrf-token', token);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        body = undefined;
      }
      const retryAfter = Number(xhr.getResponseHeader('retry-after'));
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body, ...(retryAfter > 0 && { retryAfter }) });
    };
    // The connection failed (offline, reset): no status to report.
    xhr.onerror = () => resolve({ ok: false, status: 0, body: undefined });
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** What to tell a person about a failed upload: the API's own message (size, type, quota, …). */
export function uploadProblem(result: UploadResult): string {
  if (result.status === 0) return 'The upload did not reach the server. Check the connection and try again.';
  if (result.status === 429) return result.retryAfter ? `Too many requests. Try again in ${Math.ceil(result.retryAfter)} seconds.` : 'Too many requests. Try again later.';
  return (result.body as Partial<ApiError> | undefined)?.error?.message ?? `The server answered ${result.status}`;
}
