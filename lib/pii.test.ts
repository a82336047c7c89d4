// Finding and replacing personal data (lib/pii.ts).
import { describe, expect, it } from 'vitest';
import { createRedaction, findPii, localeCountry, luhnValid } from './pii.ts';

describe('PII redaction', () => {
  it('replaces emails, phone numbers, Luhn-valid card numbers and IBANs with stable placeholders, and restores them', () => {
    const r = createRedaction('GB');
    const text = 'Mail ana@example.com or ANA@example.com, call +44 20 7946 0958, card 4111-1111-1111-1111, IBAN GB82 WEST 1234 5698 7654 32.';
    const redacted = r.redact(text);
    expect(redacted).toBe('Mail [EMAIL_1] or [EMAIL_1], call [PHONE_1], card [CARD_1], IBAN [IBAN_1].');
    expect(r.redact('Again: 4111 1111 1111 1111')).toBe('Again: [CARD_1]');
    expect(r.restore('Sent to [EMAIL_1], card [CARD_1], unknown [EMAIL_9].')).toBe('Sent to ana@example.com, card 4111-1111-1111-1111, unknown [EMAIL_9].');
    expect(r.count).toBe(4);
  });

  it('leaves numbers that fail their checksum, and ordinary text, alone', () => {
    expect(findPii('Order 4111 1111 1111 1112, IBAN GB82 WEST 1234 5698 7654 33, 30 days, £4.95, A-1')).toEqual([]);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
  });

  it('reads national phone numbers in the locale region', () => {
    expect(localeCountry('en-GB')).toBe('GB');
    expect(localeCountry('en')).toBeUndefined();
    expect(createRedaction(localeCountry('de-DE')).redact('Handy 0151 23456789')).toBe('Handy [PHONE_1]');
  });
});
