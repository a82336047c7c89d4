import { describe, expect, it } from 'vitest';
import { decodeCursor as decodeHistoryCursor } from '../webchat/history.ts';
import { afterCursor, cursorDate, encodeCursor } from './common.ts';

const ID = '00000000-0000-1000-8000-000000000000';

describe('cursor dates', () => {
  it('takes the instants a stored row can have and refuses what Postgres would answer with a 500', () => {
    expect(cursorDate('2026-12-02T04:00:00.000Z')).toEqual(new Date('2026-12-02T04:00:00.000Z'));
    expect(cursorDate('0001-01-01T00:00:00.000Z')).toBeDefined();
    expect(cursorDate('9999-12-31T23:59:59.999Z')).toBeDefined();
    for (const bad of ['0000-12-31T23:59:59.999Z', '+010000-01-01T00:00:00.000Z', '-000001-01-01T00:00:00.000Z', 'not a date']) expect(cursorDate(bad), bad).toBeUndefined();
  });

  it('a page cursor naming year 0 is a 400 invalid_cursor, not a query', () => {
    expect(() => afterCursor('createdAt', encodeCursor('0000-12-31T23:59:59.999Z', ID), { date: true })).toThrow(expect.objectContaining({ statusCode: 400, code: 'invalid_cursor' }));
    expect(afterCursor('createdAt', encodeCursor(new Date('2026-01-01T00:00:00Z'), ID), { date: true })).toHaveProperty('OR');
  });

  it('a web chat history cursor past year 9999 is not one of ours', () => {
    const at = (ms: number) => Buffer.from(`${ms}.${ID}`).toString('base64url');
    expect(decodeHistoryCursor(at(Date.UTC(2026, 0, 1)))).toEqual({ at: new Date(Date.UTC(2026, 0, 1)), id: ID });
    expect(decodeHistoryCursor(at(999_999_999_999_999))).toBeNull();
  });
});
