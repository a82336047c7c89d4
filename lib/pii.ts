// Personal data replaced by placeholders before text leaves for a model provider, and put back
// in what comes back (tenant setting privacy.redactPii). One Redaction serves one request: the
// same value gets the same placeholder everywhere in it ("[EMAIL_1]" in the question, the
// history and the summary alike), so the model can still refer to it, and `restore` turns the
// placeholders of its answer or of its tool call arguments back into the customer's values.
//
// What is found:
// - phone numbers: libphonenumber-js (Google's metadata; numbers it calls valid, international
//   form anywhere, national form in the tenant's country);
// - IBANs: ibantools (country format and the mod-97 checksum), written with or without spaces;
// - payment card numbers: 13–19 digits (spaces or dashes between groups) passing the Luhn
//   check; hand-written, as the check is five lines and the card libraries validate a field's
//   whole value rather than find numbers in a sentence;
// - email addresses: a pattern of the usual address shape (local part, @, a dotted domain), as
//   the libraries that find addresses in text are such patterns too.
// The placeholders' values live only in memory for the call and are never logged.
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js';

export type PiiKind = 'EMAIL' | 'PHONE' | 'CARD' | 'IBAN';

const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+/g;
/** Two letters, two check digits, then 11–30 letters or digits, optionally in groups of four. */
const IBAN = /\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b/gi;
/** 13–19 digits, groups separated by single spaces or dashes. */
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
/** Placeholders as this module writes them (and as a model repeats them). */
const PLACEHOLDER = /\[(EMAIL|PHONE|CARD|IBAN)_(\d+)\]/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

interface Span {
  start: number;
  end: number;
  kind: PiiKind;
  value: string;
}

/** The personal data in a text, as non-overlapping spans in order (an earlier, longer find wins). */
export function findPii(text: string, country?: CountryCode): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(EMAIL)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'EMAIL', value: m[0] });
  for (const m of text.matchAll(IBAN)) {
    const iban = electronicFormatIBAN(m[0]);
    if (iban && isValidIBAN(iban)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'IBAN', value: m[0] });
  }
  for (const m of text.matchAll(CARD)) {
    const digits = m[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && luhnValid(digits)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'CARD', value: m[0] });
  }
  for (const p of findPhoneNumbersInText(text, country)) spans.push({ start: p.startsAt, end: p.endsAt, kind: 'PHONE', value: text.slice(p.startsAt, p.endsAt) });
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Span[] = [];
  for (const s of spans) if (!kept.length || s.start >= kept.at(-1)!.end) kept.push(s);
  return kept;
}

export interface Redaction {
  /** The text with every personal value replaced by its placeholder. */
  redact(text: string): string;
  /** The text with this redaction's placeholders replaced by the values again (others left as written). */
  restore(text: string): string;
  /** How many distinct values were replaced so far. */
  readonly count: number;
}

/** `country`: the tenant's region (the locale's, e.g. GB of en-GB), for phone numbers written without +. */
export function createRedaction(country?: CountryCode): Redaction {
  const byValue = new Map<string, string>();
  const byPlaceholder = new Map<string, string>();
  const counters: Record<PiiKind, number> = { EMAIL: 0, PHONE: 0, CARD: 0, IBAN: 0 };
  return {
    redact(text) {
      let out = '';
      let at = 0;
      for (const span of findPii(text, country)) {
        // One value, one placeholder, however it is spaced ("4111 1111…" and "4111-1111…").
        const key = `${span.kind}:${span.kind === 'EMAIL' ? span.value.toLowerCase() : span.value.replace(/[^A-Za-z0-9+]/g, '').toUpperCase()}`;
        let placeholder = byValue.get(key);
        if (!placeholder) {
          placeholder = `[${span.kind}_${++counters[span.kind]}]`;
          byValue.set(key, placeholder);
          byPlaceholder.set(placeholder, span.value);
        }
        out += text.slice(at, span.start) + placeholder;
        at = span.end;
      }
      return out + text.slice(at);
    },
    restore(text) {
      return text.replace(PLACEHOLDER, (p) => byPlaceholder.get(p) ?? p);
    },
    get count() {
      return byValue.size;
    },
  };
}

/** The longest text that may still grow into a placeholder: "[", a kind, "_", digits. */
const PLACEHOLDER_START = /\[(?:[A-Z]{0,5}(?:_\d{0,6})?)?$/;

/**
 * Restores a text that arrives in pieces (a streamed answer): each piece is passed on restored,
 * except a tail that may be the start of a placeholder, held until the next piece tells, so a
 * reader never sees half a placeholder. `end()` passes on what is still held.
 */
export function restoringStream(redaction: Pick<Redaction, 'restore'>, emit: (text: string) => void): { write(piece: string): void; end(): void } {
  let held = '';
  return {
    write(piece) {
      const text = held + piece;
      const tail = PLACEHOLDER_START.exec(text);
      const cut = tail ? tail.index : text.length;
      held = text.slice(cut);
      if (cut > 0) emit(redaction.restore(text.slice(0, cut)));
    },
    end() {
      if (held) emit(redaction.restore(held));
      held = '';
    },
  };
}

/** The region of a BCP 47 locale (en-GB → GB), when it names one. */
export function localeCountry(locale: string): CountryCode | undefined {
  const region = locale.split('-').slice(1).find((part) => /^[A-Za-z]{2}$/.test(part));
  return region ? (region.toUpperCase() as CountryCode) : undefined;
}
