// The request id as it travels with a message through Temporal: a header on the signal, the
// update or the workflow start, then on every activity the workflow schedules for it. Pure (no
// Node APIs): the workflow interceptors import it inside the sandbox too.
import { defaultPayloadConverter, type Headers } from '@temporalio/common';

/** What the API takes from a caller's X-Request-Id; anything else gets a fresh id. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export const REQUEST_ID_HEADER = 'metachat-request-id';

export function withRequestId(headers: Headers, requestId: string | undefined): Headers {
  if (!requestId || headers[REQUEST_ID_HEADER]) return headers;
  return { ...headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(requestId) };
}

/** The header's request id, when there is one that looks like one (headers cross a trust boundary). */
export function requestIdOf(headers: Headers | undefined): string | undefined {
  const payload = headers?.[REQUEST_ID_HEADER];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
