import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MESSENGER_TEXT_LIMIT, sendInParts, splitMessage, WHATSAPP_TEXT_LIMIT } from './split-message.ts';

/**
 * The contract, checked part by part: each part is the next stretch of the text once the
 * whitespace between parts is skipped, so nothing is lost, added or reordered.
 */
function expectFaithfulSplit(text: string, parts: string[], limit: number) {
  let rest = text;
  for (const part of parts) {
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThanOrEqual(limit);
    expect(part).toBe(part.trim());
    rest = rest.trimStart();
    expect(rest.startsWith(part)).toBe(true);
    rest = rest.slice(part.length);
  }
  expect(rest.trim()).toBe('');
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

describe('splitMessage', () => {
  it('keeps a short message whole, trimmed', () => {
    expect(splitMessage('  Hello there!  ', 100)).toEqual(['Hello there!']);
    expect(splitMessage(' \n\t ', 100)).toEqual([]);
    expect(splitMessage('x'.repeat(100), 100)).toEqual(['x'.repeat(100)]);
  });

  it('exports the channel limits', () => {
    expect(WHATSAPP_TEXT_LIMIT).toBe(4096);
    expect(MESSENGER_TEXT_LIMIT).toBe(2000);
  });

  it('prefers a paragraph break over a later sentence end', () => {
    const first = 'First paragraph, quite long. It has two sentences.';
    const second = 'Second one. More words here to pass the limit.';
    expect(splitMessage(`${first}\n\n${second}`, 70)).toEqual([first, second]);
  });

  it('cuts after a sentence rather than mid-sentence', () => {
    const text = 'One short sentence here. Another sentence that goes past the limit for sure.';
    expect(splitMessage(text, 40)).toEqual(['One short sentence here.', 'Another sentence that goes past the', 'limit for sure.']);
  });

  it('keeps closing quotes with their sentence and handles ! ? …', () => {
    expect(splitMessage('He said "stop!" Then he left the room quietly.', 30)).toEqual(['He said "stop!"', 'Then he left the room quietly.']);
    expect(splitMessage('Really? Yes… Absolutely sure about it now.', 20)).toEqual(['Really? Yes…', 'Absolutely sure', 'about it now.']);
  });

  it('does not make a tiny part just to honour an early paragraph break', () => {
    const parts = splitMessage(`Hi\n\n${'word '.repeat(30)}`, 50);
    expect(parts[0]!.startsWith('Hi\n\nword')).toBe(true);
  });

  it('falls back to word boundaries, then hard cuts an overlong token', () => {
    expect(splitMessage('alpha beta gamma delta', 11)).toEqual(['alpha beta', 'gamma delta']);
    const url = `https://example.com/${'a'.repeat(30)}`;
    const parts = splitMessage(url, 20);
    expect(parts.join('')).toBe(url);
    expect(parts.map((p) => p.length)).toEqual([20, 20, 10]);
  });

  it('never splits an emoji ZWJ sequence, a flag or a surrogate pair', () => {
    const family = '👨‍👩‍👧‍👦'; // 11 code units
    const text = family.repeat(5);
    const parts = splitMessage(text, 24);
    expect(parts).toEqual([family.repeat(2), family.repeat(2), family]);
    expect(splitMessage('🇫🇷🇩🇪🇮🇹', 5)).toEqual(['🇫🇷', '🇩🇪', '🇮🇹']);
    expect(splitMessage('😀😀😀', 3)).toEqual(['😀', '😀', '😀']);
  });

  it('cuts a grapheme longer than the limit between code points', () => {
    const zalgo = `e${'\u0301'.repeat(20)}`;
    const parts = splitMessage(zalgo, 8);
    expect(parts.join('')).toBe(zalgo);
    expect(parts.every((p) => p.length <= 8)).toBe(true);
    const longEmoji = '👨‍👩‍👧‍👦'; // one grapheme, 11 units, cut at limit 4 without splitting a pair
    for (const part of splitMessage(longEmoji, 4)) {
      expect(isLowSurrogate(part.charCodeAt(0))).toBe(false);
      expect(isHighSurrogate(part.charCodeAt(part.length - 1))).toBe(false);
    }
  });

  it('splits a realistic long reply under the WhatsApp limit', () => {
    const paragraph = 'The warranty covers manufacturing defects for two years. Keep your receipt! ';
    const text = Array.from({ length: 150 }, (_, i) => `${i}. ${paragraph.repeat(3)}`).join('\n\n');
    const parts = splitMessage(text, WHATSAPP_TEXT_LIMIT);
    expectFaithfulSplit(text, parts, WHATSAPP_TEXT_LIMIT);
    expect(parts.length).toBeGreaterThan(1);
    // Every cut fell on a paragraph break: each part starts with a paragraph number.
    expect(parts.every((p) => /^\d+\. /.test(p))).toBe(true);
  });

  it('rejects a limit that cannot hold a code point', () => {
    expect(() => splitMessage('abc', 1)).toThrow(RangeError);
    expect(() => splitMessage('abc', 2.5)).toThrow(RangeError);
  });

  describe('properties', () => {
    // Text built from pieces that exercise every kind of break and every awkward character.
    const piece = fc.constantFrom('a', 'word', 'Hello', ' ', '  ', '\n', '\n\n', '. ', '! ', '? ', '…', '"', '😀', '👨‍👩‍👧', '🇫🇷', 'e\u0301', '\t', 'x'.repeat(25));
    const text = fc.array(piece, { maxLength: 120 }).map((p) => p.join(''));
    const limit = fc.integer({ min: 2, max: 60 });

    it('loses, adds and reorders nothing but whitespace at split points; parts fit and are non-empty', () => {
      fc.assert(
        fc.property(text, limit, (t, l) => {
          expectFaithfulSplit(t, splitMessage(t, l), l);
        }),
        { numRuns: 500 },
      );
    });

    it('holds for arbitrary strings too', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 300 }), limit, (t, l) => {
          const parts = splitMessage(t, l);
          expectFaithfulSplit(t, parts, l);
          expect(parts.join('').replace(/\s/g, '')).toBe(t.replace(/\s/g, ''));
        }),
        { numRuns: 500 },
      );
    });

    it('never leaves half of a surrogate pair at a cut', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), limit, (t, l) => {
          const parts = splitMessage(t, l);
          for (const [i, part] of parts.entries()) {
            if (i > 0) expect(isLowSurrogate(part.charCodeAt(0))).toBe(false);
            if (i < parts.length - 1) expect(isHighSurrogate(part.charCodeAt(part.length - 1))).toBe(false);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('is deterministic, so a resumed send recomputes the same parts', () => {
      fc.assert(
        fc.property(text, limit, (t, l) => {
          expect(splitMessage(t, l)).toEqual(splitMessage(t, l));
        }),
      );
    });
  });
});

describe('sendInParts', () => {
  const send = (log: string[]) => async (text: string) => (log.push(text), `id-${text}`);

  it('sends from startAtPart in order and reports each part', async () => {
    const log: string[] = [];
    const reported: number[] = [];
    const result = await sendInParts(['a', 'b', 'c'], { startAtPart: 1, onPartSent: (p) => void reported.push(p.partIndex) }, send(log));
    expect(log).toEqual(['b', 'c']);
    expect(reported).toEqual([1, 2]);
    expect(result).toEqual({ messageIds: ['id-b', 'id-c'], partCount: 3 });
  });

  it('sends nothing when every part was already delivered', async () => {
    const log: string[] = [];
    expect(await sendInParts(['a'], { startAtPart: 1 }, send(log))).toEqual({ messageIds: [], partCount: 1 });
    expect(log).toEqual([]);
  });

  it('refuses an empty message and a resume point past the end, without retrying', async () => {
    await expect(sendInParts([], {}, send([]))).rejects.toMatchObject({ type: 'InvalidSendRequest', nonRetryable: true });
    await expect(sendInParts(['a'], { startAtPart: 2 }, send([]))).rejects.toMatchObject({ type: 'InvalidSendRequest', nonRetryable: true });
    await expect(sendInParts(['a'], { startAtPart: -1 }, send([]))).rejects.toMatchObject({ nonRetryable: true });
  });
});
