// The one way the web app talks to the API: openapi-fetch over the paths of the OpenAPI document
// (schema.d.ts, generated from it), so a call, its body and its answer are checked against the
// API's own schemas when the app is type-checked. The session cookie goes by itself (same
// origin); every write carries the session's CSRF token, learnt from sign-in or GET /api/v1/me.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

export type Me = paths['/api/v1/me/']['get']['responses'][200]['content']['application/json'];
export type Role = Me['user']['role'];
/** The API's error body (every route answers its 4xx with the same one). */
export type ApiError = paths['/api/v1/auth/session']['post']['responses'][401]['content']['application/json'];

let csrfToken: string | undefined;

/** The token to send on writes from now on (undefined: signed out). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** The token for the one write that cannot go through `api`: an upload that reports its progress (XMLHttpRequest). */
export const currentCsrfToken = (): string | undefined => csrfToken;

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && request.method !== 'GET' && request.method !== 'HEAD') request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

/** What to tell a person about a failed call: the API's message, with the wait when it names one. */
export function problemOf(error: unknown, response: Response): string {
  const message = (error as Partial<ApiError> | undefined)?.error?.message ?? `The server answered ${response.status}`;
  if (response.status === 429) {
    const seconds = Number(response.headers.get('retry-after'));
    return Number.isFinite(seconds) && seconds > 0 ? `Too many attempts. Try again in ${waitText(seconds)}.` : 'Too many attempts. Try again later.';
  }
  return message;
}

/** The error code of a failed call, if the API gave one. */
export const codeOf = (error: unknown): string | undefined => (error as Partial<ApiError> | undefined)?.error?.code;

function waitText(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}
