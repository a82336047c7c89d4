import { describe, expect, it } from 'vitest';
import { mediaRefusal, typeAllowed } from './limits.ts';

const limits = { maxBytes: 1000, allowedTypes: ['image/jpeg', 'audio/*', 'application/pdf'] };

describe('media limits', () => {
  it('takes listed types and whole families, whatever their parameters and case', () => {
    expect(typeAllowed(limits, 'image/jpeg')).toBe(true);
    expect(typeAllowed(limits, 'audio/ogg; codecs=opus')).toBe(true);
    expect(typeAllowed(limits, 'Application/PDF')).toBe(true);
    expect(typeAllowed(limits, 'image/gif')).toBe(false);
    expect(typeAllowed(limits, 'video/mp4')).toBe(false);
  });

  it('says why a file is refused: its type, an unknown type, or its size', () => {
    expect(mediaRefusal(limits, 'image/jpeg', 1000)).toBeUndefined();
    expect(mediaRefusal(limits, 'image/jpeg')).toBeUndefined();
    expect(mediaRefusal(limits, 'image/jpeg', 1001)).toBe('too_large: 1001 bytes, the limit is 1000 (MEDIA_MAX_BYTES)');
    expect(mediaRefusal(limits, 'application/x-msdownload', 10)).toBe('type_not_allowed: application/x-msdownload is not in MEDIA_ALLOWED_TYPES');
    expect(mediaRefusal(limits, undefined, 10)).toMatch(/^type_unknown/);
  });
});
