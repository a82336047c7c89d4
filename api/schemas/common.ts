// Schemas shared by the /api/v1 routes: ids, the error envelope, cursor pagination.
//
// Pagination is keyset-based: a page is ordered by (sort field, id) and the opaque cursor is the
// last row's (value, id), so pages stay stable while rows are added and cost the same at any
// depth. `limit` is 1..100 (default 20); `nextCursor` is null on the last page.
import { z } from 'zod';
import { HttpError } from '../plugins/app/errors.ts';

export const uuid = z.uuid();
export const idParams = z.object({ id: z.uuid() });

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() }),
});

/** A 204: documented without a body (z.null() would document a JSON `null` the server never sends). */
export const noContent = z.undefined().describe('No content');

/** Error responses documented on every authenticated route. */
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
  429: errorBody,
} as const;

export const paginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional().describe('Opaque cursor from a previous page\'s nextCursor'),
});

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

type CursorValue = string | number | null;

export function encodeCursor(value: CursorValue | Date, id: string): string {
  const v = value instanceof Date ? value.toISOString() : value;
  return Buffer.from(JSON.stringify([v, id]), 'utf8').toString('base64url');
}

const cursorShape = z.tuple([z.union([z.string().max(200), z.number(), z.null()]), z.string().max(100)]);

export function decodeCursor(cursor: string): { value: CursorValue; id: string } {
  try {
    const [value, id] = cursorShape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { value, id };
  } catch {
    throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
  }
}

/**
 * A cursor's date, if it is one a stored row could have: a valid instant in years 1 to 9999 (what
 * Postgres takes in ISO form; year 0 and six-digit years are refused there, as a 500).
 */
export function cursorDate(value: unknown): Date | undefined {
  const d = value instanceof Date ? value : new Date(String(value));
  const year = d.getUTCFullYear();
  return Number.isNaN(d.getTime()) || year < 1 || year > 9999 ? undefined : d;
}

/**
 * The `where` that continues after the cursor for rows ordered by `field` desc, then id desc
 * (nulls last when `nullable`). Dates travel as ISO strings in the cursor.
 */
export function afterCursor(field: string, cursor: string | undefined, opts: { date?: boolean; nullable?: boolean } = {}): Record<string, unknown> {
  if (!cursor) return {};
  const { value, id } = decodeCursor(cursor);
  if (!uuid.safeParse(id).success) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
  let v: unknown = value;
  if (opts.date && value !== null) {
    const d = cursorDate(value);
    if (!d) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
    v = d;
  }
  if (v === null) {
    if (!opts.nullable) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
    return { [field]: null, id: { lt: id } };
  }
  const or: Record<string, unknown>[] = [{ [field]: { lt: v } }, { [field]: v, id: { lt: id } }];
  if (opts.nullable) or.push({ [field]: null });
  return { OR: or };
}

/** Splits a `limit + 1` fetch into a page and the cursor of the next one. */
export function toPage<T extends { id: string }>(rows: T[], limit: number, sortValue: (row: T) => CursorValue | Date): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(sortValue(last), last.id) : null };
}

/** A bounded date range (from inclusive, to exclusive), at most `maxDays` long. */
export function dateRange(maxDays: number) {
  return z
    .object({
      from: z.iso.date().or(z.iso.datetime({ offset: true })).describe('Start (inclusive), ISO date or date-time'),
      to: z.iso.date().or(z.iso.datetime({ offset: true })).describe('End (exclusive), ISO date or date-time'),
    })
    .refine((r) => new Date(r.from) < new Date(r.to), { message: 'from must be before to', path: ['from'] })
    .refine((r) => new Date(r.to).getTime() - new Date(r.from).getTime() <= maxDays * 86_400_000, {
      message: `the range may span at most ${maxDays} days`,
      path: ['to'],
    });
}

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
