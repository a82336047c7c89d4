// WhatsApp message templates: the shape the Graph API lists them in, and a send's parameters
// checked against a template's components before anything reaches Meta. Meta refuses a template
// send whose parameters do not fit (error 132000 and friends) only after the message was stored
// and queued; checking here turns that into a 400 that names the parameter.
//
// Sources: Cloud API "Message templates" (components, parameter_format) and "Send message
// templates" (the `type: "template"` request), developers.facebook.com/docs/whatsapp.
import { z } from 'zod';

/** A component as GET /{waba-id}/message_templates lists it. Loose: Meta adds fields. */
export const templateComponentSchema = z.looseObject({
  type: z.string(),
  format: z.string().optional(),
  text: z.string().optional(),
  buttons: z.array(z.looseObject({ type: z.string(), text: z.string().optional(), url: z.string().optional() })).optional(),
});
export type TemplateComponent = z.infer<typeof templateComponentSchema>;

/** One template of the listing; `parameter_format` is absent on accounts from before named parameters. */
export const graphTemplateSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().min(1).max(512),
  language: z.string().min(1).max(20),
  status: z.string().min(1).max(40),
  category: z.string().max(40).optional(),
  parameter_format: z.enum(['POSITIONAL', 'NAMED']).optional(),
  components: z.array(templateComponentSchema).default([]),
  rejected_reason: z.string().optional(),
});
export type GraphTemplate = z.infer<typeof graphTemplateSchema>;

export type ParameterFormat = 'POSITIONAL' | 'NAMED';

/** The parts of a stored template a send needs. */
export interface SendableTemplate {
  name: string;
  language: string;
  parameterFormat: ParameterFormat;
  components: TemplateComponent[];
}

/** Positional values in order ({{1}} first), or named ones by name. */
const textValues = z.union([z.array(z.string()).max(100), z.record(z.string().max(100), z.string())]);

/** What a caller gives for a template's placeholders (the API's `parameters`). */
export const templateParametersSchema = z
  .strictObject({
    header: textValues.optional().describe('Values of the TEXT header\'s placeholders: an array for {{1}}…, an object for named ones'),
    headerMedia: z
      .strictObject({ link: z.url({ protocol: /^https$/ }).max(2000) })
      .optional()
      .describe('The file of an IMAGE, VIDEO or DOCUMENT header: a public https link Meta downloads'),
    body: textValues.optional().describe('Values of the body\'s placeholders: an array for {{1}}…, an object for named ones'),
    buttons: z
      .array(z.strictObject({ index: z.number().int().min(0).max(9), text: z.string() }))
      .max(10)
      .optional()
      .describe('Per button with a variable (a URL ending in {{1}}, a COPY_CODE coupon): its index among the buttons and the value'),
  })
  .describe("The values of the template's placeholders, checked against its components (count, required, length) before sending");
export type TemplateParameters = z.infer<typeof templateParametersSchema>;

/** A component of the `type: "template"` request body. */
export type WireComponent =
  | { type: 'header' | 'body'; parameters: WireParameter[] }
  | { type: 'button'; sub_type: 'url' | 'copy_code'; index: string; parameters: WireParameter[] };
type WireParameter =
  | { type: 'text'; text: string; parameter_name?: string }
  | { type: 'image' | 'video' | 'document'; image?: { link: string }; video?: { link: string }; document?: { link: string } }
  | { type: 'coupon_code'; coupon_code: string };

export interface RenderedTemplate {
  /** `template.components` of the send request. */
  components: WireComponent[];
  /** What the customer reads (header, body, footer), stored as the message's text. */
  text: string;
}

export interface ParameterIssue {
  path: string;
  message: string;
}

export class TemplateParameterError extends Error {
  constructor(readonly issues: ParameterIssue[]) {
    super(issues.map((i) => `${i.path} ${i.message}`).join('; '));
    this.name = 'TemplateParameterError';
  }
}

// Meta's limits: a header of at most 60 characters, a body of at most 1024, a URL of at most
// 2000, a coupon code of at most 15; a text parameter without new lines, tabs or more than four
// consecutive spaces (error 132018).
export const HEADER_TEXT_MAX = 60;
export const BODY_TEXT_MAX = 1024;
const URL_MAX = 2000;
const COUPON_MAX = 15;
const FORBIDDEN_IN_PARAMETER = /[\n\t]| {5,}/;

const MEDIA_FORMATS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT']);

/** The placeholders of a text in order of first appearance: ["1", "2"] or ["first_name"]. */
export function placeholdersOf(text: string | undefined): string[] {
  const names: string[] = [];
  for (const m of (text ?? '').matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)) if (!names.includes(m[1]!)) names.push(m[1]!);
  return names;
}

/**
 * The send's components and the text the customer reads, or TemplateParameterError naming every
 * placeholder without a value, every value without a placeholder, and every value that is empty,
 * too long or of a form Meta refuses.
 */
export function renderTemplate(template: SendableTemplate, given: TemplateParameters = {}): RenderedTemplate {
  const issues: ParameterIssue[] = [];
  const components: WireComponent[] = [];
  const parts: string[] = [];
  const byType = (type: string) => template.components.find((c) => c.type.toUpperCase() === type);
  const named = template.parameterFormat === 'NAMED';

  /** Fills one text's placeholders from `values`; records issues under `path`. */
  const fill = (path: string, text: string, values: TemplateParameters['body'], max: number): { rendered: string; parameters: WireParameter[] } | null => {
    const wanted = placeholdersOf(text);
    const before = issues.length;
    const lookup = new Map<string, string>();
    if (values === undefined) {
      if (wanted.length > 0) issues.push({ path, message: `needs ${wanted.length} value${wanted.length === 1 ? '' : 's'} (${wanted.map((w) => `{{${w}}}`).join(', ')})` });
    } else if (Array.isArray(values)) {
      if (named && values.length > 0) issues.push({ path, message: `this template's placeholders are named (${wanted.join(', ')}): give an object` });
      else if (values.length !== wanted.length) issues.push({ path, message: `needs exactly ${wanted.length} value${wanted.length === 1 ? '' : 's'}, got ${values.length}` });
      else wanted.forEach((w, i) => lookup.set(w, values[i]!));
    } else {
      if (!named && Object.keys(values).length > 0) issues.push({ path, message: 'this template\'s placeholders are numbered: give an array in order' });
      else {
        for (const w of wanted) if (!(w in values)) issues.push({ path: `${path}/${w}`, message: 'is required' });
        for (const k of Object.keys(values)) if (!wanted.includes(k)) issues.push({ path: `${path}/${k}`, message: 'is not a placeholder of this template' });
        for (const w of wanted) if (values[w] !== undefined) lookup.set(w, values[w]);
      }
    }
    for (const [w, value] of lookup) {
      const at = named ? `${path}/${w}` : `${path}/${wanted.indexOf(w)}`;
      if (!value.trim()) issues.push({ path: at, message: 'must not be empty' });
      else if (FORBIDDEN_IN_PARAMETER.test(value)) issues.push({ path: at, message: 'must not contain new lines, tabs or more than four spaces in a row' });
    }
    if (issues.length > before) return null;
    const rendered = text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, w: string) => lookup.get(w) ?? '');
    if (rendered.length > max) {
      issues.push({ path, message: `renders to ${rendered.length} characters; at most ${max}` });
      return null;
    }
    const parameters: WireParameter[] = wanted.map((w) => ({ type: 'text', text: lookup.get(w)!, ...(named && { parameter_name: w }) }));
    return { rendered, parameters };
  };

  const header = byType('HEADER');
  const format = header?.format?.toUpperCase() ?? 'TEXT';
  if (header && format === 'TEXT' && header.text) {
    const filled = fill('/parameters/header', header.text, given.header, HEADER_TEXT_MAX);
    if (filled) {
      parts.push(filled.rendered);
      if (filled.parameters.length) components.push({ type: 'header', parameters: filled.parameters });
    }
  } else if (given.header !== undefined && (Array.isArray(given.header) ? given.header.length : Object.keys(given.header).length)) {
    issues.push({ path: '/parameters/header', message: 'this template has no text header with placeholders' });
  }
  if (header && MEDIA_FORMATS.has(format)) {
    const kind = format.toLowerCase() as 'image' | 'video' | 'document';
    if (!given.headerMedia) issues.push({ path: '/parameters/headerMedia', message: `is required: the template's header is ${kind === 'image' ? 'an' : 'a'} ${kind}` });
    else {
      components.push({ type: 'header', parameters: [{ type: kind, [kind]: { link: given.headerMedia.link } }] });
      parts.push(`[${kind}]`);
    }
  } else if (given.headerMedia) {
    issues.push({ path: '/parameters/headerMedia', message: 'this template has no media header' });
  }

  const body = byType('BODY');
  const filledBody = fill('/parameters/body', body?.text ?? '', given.body, BODY_TEXT_MAX);
  if (filledBody) {
    if (filledBody.rendered) parts.push(filledBody.rendered);
    if (filledBody.parameters.length) components.push({ type: 'body', parameters: filledBody.parameters });
  }
  const footer = byType('FOOTER');
  if (footer?.text) parts.push(footer.text);

  const buttons = byType('BUTTONS')?.buttons ?? [];
  const givenButtons = new Map((given.buttons ?? []).map((b) => [b.index, b.text]));
  buttons.forEach((button, index) => {
    const type = button.type.toUpperCase();
    const path = `/parameters/buttons/${index}`;
    const variable = (type === 'URL' && placeholdersOf(button.url).length > 0) || type === 'COPY_CODE';
    const value = givenButtons.get(index);
    givenButtons.delete(index);
    if (!variable) {
      if (value !== undefined) issues.push({ path, message: `button ${index} (${type}) takes no value` });
      return;
    }
    if (value === undefined || !value.trim()) {
      issues.push({ path, message: `button ${index} (${type}) needs a value` });
      return;
    }
    if (type === 'COPY_CODE') {
      if (value.length > COUPON_MAX) issues.push({ path, message: `a coupon code has at most ${COUPON_MAX} characters` });
      else components.push({ type: 'button', sub_type: 'copy_code', index: String(index), parameters: [{ type: 'coupon_code', coupon_code: value }] });
      return;
    }
    const url = button.url!.replace(/\{\{\s*[A-Za-z0-9_]+\s*\}\}/, value);
    if (FORBIDDEN_IN_PARAMETER.test(value) || /\s/.test(value)) issues.push({ path, message: 'a URL suffix must not contain spaces' });
    else if (url.length > URL_MAX) issues.push({ path, message: `the button's URL would have ${url.length} characters; at most ${URL_MAX}` });
    else components.push({ type: 'button', sub_type: 'url', index: String(index), parameters: [{ type: 'text', text: value }] });
  });
  for (const index of givenButtons.keys()) issues.push({ path: `/parameters/buttons/${index}`, message: 'this template has no such button' });

  if (issues.length) throw new TemplateParameterError(issues);
  return { components, text: parts.join('\n\n') };
}

/**
 * What is wrong with `phone` as a customer's number, or null when it is one. WhatsApp names a
 * user by their wa_id: the number in E.164 without the "+" (country code first, 15 digits at
 * most). People write numbers with a "+", spaces, dashes, dots and parentheses, which are only
 * separators; anything else (letters, an extension, a second "+") means it is not a number, and
 * a leading 0 is a trunk or "00" international prefix where the country code belongs.
 */
export function phoneNumberProblem(phone: string): string | null {
  const trimmed = phone.trim();
  if (!/^\+?[\d\s().-]+$/.test(trimmed)) return 'may hold only digits, a leading +, and spaces, dashes, dots or parentheses between them';
  const digits = trimmed.replace(/\D/g, '');
  if (digits.startsWith('0')) return 'must start with the country code, not 0 (e.g. +4915123456789, not 0049… or 0151…)';
  if (digits.length < 7 || digits.length > 15) return `has ${digits.length} digits; a number with its country code has 7 to 15 (E.164)`;
  return null;
}

/** A phone number as WhatsApp names the user (wa_id: digits only, "+1 (555) 010-9999" → "15550109999"), or null if it cannot be one. */
export function whatsappIdOf(phone: string): string | null {
  return phoneNumberProblem(phone) === null ? phone.replace(/\D/g, '') : null;
}

/** A WhatsApp id or phone number as the API accepts it: 400 saying what is wrong otherwise. */
export const phoneNumberSchema = z
  .string()
  .max(32)
  .superRefine((v, ctx) => {
    const problem = phoneNumberProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a phone number: it ${problem}` });
  })
  .transform((v) => whatsappIdOf(v)!)
  .describe('The customer\'s phone number with its country code (E.164, e.g. +15550109999), or their WhatsApp id');
