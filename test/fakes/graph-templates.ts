// The fake Graph API's WhatsApp message templates (test/fakes/graph-api.ts serves them):
//
//   GET  /{version}/{waba-id}/message_templates?fields=…&limit=…&after=…   the business account's
//        templates, paged as Meta pages them ({ data, paging: { cursors: { before, after }, next } })
//   POST /{version}/{phone-number-id}/messages with type "template"       checked as Meta checks a
//        template send: the template exists in that language (132001), is APPROVED (132015 paused,
//        132016 disabled), each component gets exactly its placeholders' parameters (132000), named
//        parameters name them (132012), no new lines or tabs in a parameter (132018)
//
// A test tells which templates a business account has (`set`), and reads what customers got
// (`delivered`, with the rendered text).
import { randomBytes } from 'node:crypto';

export interface FakeTemplate {
  /** Meta's id; one is made up when absent. */
  id?: string;
  name: string;
  language: string;
  status?: string;
  category?: string;
  parameter_format?: 'POSITIONAL' | 'NAMED';
  components: { type: string; format?: string; text?: string; buttons?: { type: string; text?: string; url?: string }[] }[];
}

export interface DeliveredTemplate {
  from: string;
  to: string;
  name: string;
  language: string;
  /** Header, body and footer as the customer reads them. */
  text: string;
  components: unknown[];
  messageId: string;
  /** When the fake took it (ms since the epoch). */
  at: number;
}

export interface TemplateAnswer {
  status: number;
  body: unknown;
}

/** A Graph error the caller wraps in Meta's envelope. */
export interface TemplateRefusal {
  code: number;
  message: string;
  details?: string;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const placeholders = (text = '') => [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];

export function createFakeTemplates() {
  const accounts = new Map<string, (Required<Pick<FakeTemplate, 'id' | 'status'>> & FakeTemplate)[]>();
  const delivered: DeliveredTemplate[] = [];

  function all() {
    return [...accounts.values()].flat();
  }

  return {
    delivered,

    /** The business account now has exactly these templates; returns them with their ids. */
    set(wabaId: string, templates: FakeTemplate[]) {
      const stored = templates.map((t) => ({ ...t, id: t.id ?? String(1e14 + Math.floor(Math.random() * 8e14)), status: t.status ?? 'APPROVED' }));
      accounts.set(wabaId, stored);
      return stored;
    },

    /** Changes one template's status (as Meta would before sending its status webhook). */
    setStatus(wabaId: string, name: string, status: string) {
      for (const t of accounts.get(wabaId) ?? []) if (t.name === name) t.status = status;
    },

    /** GET /{waba-id}/message_templates, paged by `limit` (default 25, as Meta) and the `after` cursor. */
    list(wabaId: string, query: Record<string, string>): TemplateAnswer {
      const templates = accounts.get(wabaId);
      if (!templates) {
        return { status: 400, body: { error: { message: `Unsupported get request. Object with ID '${wabaId}' does not exist`, type: 'GraphMethodException', code: 100, error_subcode: 33, fbtrace_id: 'Afake' } } };
      }
      const limit = Math.min(Number(query.limit ?? 25) || 25, 1000);
      const start = query.after ? Number(Buffer.from(query.after, 'base64url').toString('utf8')) : 0;
      const fields = (query.fields ?? 'name,language,status,category,id').split(',');
      const slice = templates.slice(start, start + limit).map((t) => Object.fromEntries(Object.entries({ ...t, parameter_format: t.parameter_format ?? 'POSITIONAL' }).filter(([k]) => k === 'id' || fields.includes(k))));
      const cursor = (i: number) => Buffer.from(String(i), 'utf8').toString('base64url');
      const more = start + limit < templates.length;
      const after = cursor(start + slice.length);
      return {
        status: 200,
        body: {
          data: slice,
          paging: {
            cursors: { before: cursor(start), after },
            ...(more && { next: `https://graph.facebook.com/v21.0/${wabaId}/message_templates?limit=${limit}&after=${after}` }),
          },
        },
      };
    },

    /** A `type: "template"` send: the refusal Meta would answer, or the delivery. */
    send(from: string, to: string, template: any): { refusal: TemplateRefusal } | { messageId: string } {
      if (typeof template?.name !== 'string' || typeof template?.language?.code !== 'string') {
        return { refusal: { code: 100, message: "(#100) The parameter template['name'] and template['language']['code'] are required." } };
      }
      const t = all().find((x) => x.name === template.name && x.language === template.language.code);
      if (!t) return { refusal: { code: 132001, message: '(#132001) Template name does not exist in the translation', details: `template name (${template.name}) does not exist in ${template.language.code}` } };
      if (t.status === 'PAUSED') return { refusal: { code: 132015, message: '(#132015) Template is Paused' } };
      if (t.status === 'DISABLED') return { refusal: { code: 132016, message: '(#132016) Template is Disabled' } };
      if (t.status !== 'APPROVED') return { refusal: { code: 132001, message: '(#132001) Template name does not exist in the translation' } };
      const given = (Array.isArray(template.components) ? template.components : []) as { type?: string; sub_type?: string; index?: string; parameters?: any[] }[];
      const named = t.parameter_format === 'NAMED';
      const rendered: string[] = [];
      for (const component of t.components) {
        const type = component.type.toUpperCase();
        if (type === 'FOOTER' && component.text) rendered.push(component.text);
        if (type !== 'HEADER' && type !== 'BODY') continue;
        if (type === 'HEADER' && component.format && component.format !== 'TEXT') {
          const media = given.find((g) => g.type === 'header')?.parameters?.[0];
          const kind = component.format.toLowerCase();
          if (media?.type !== kind || typeof media[kind]?.link !== 'string') return { refusal: { code: 132000, message: '(#132000) Number of parameters does not match the expected number of params', details: `header: expected a ${kind}` } };
          rendered.push(`[${kind}]`);
          continue;
        }
        const wanted = placeholders(component.text);
        const params = given.find((g) => g.type === type.toLowerCase())?.parameters ?? [];
        if (params.length !== wanted.length) {
          return { refusal: { code: 132000, message: '(#132000) Number of parameters does not match the expected number of params', details: `${type.toLowerCase()}: number of localizable_params (${params.length}) does not match the expected number of params (${wanted.length})` } };
        }
        const values = new Map<string, string>();
        for (const [i, p] of params.entries()) {
          if (p?.type !== 'text' || typeof p.text !== 'string') return { refusal: { code: 100, message: '(#100) Invalid parameter' } };
          if (/[\n\t]| {5,}/.test(p.text)) return { refusal: { code: 132018, message: '(#132018) There was an issue with the parameters in your template.', details: 'Param text cannot have new-line/tab characters or more than 4 consecutive spaces' } };
          const name = named ? p.parameter_name : wanted[i];
          if (named && !wanted.includes(name)) return { refusal: { code: 132012, message: '(#132012) Parameter format does not match format in the created template', details: `unknown parameter_name ${String(name)}` } };
          values.set(name, p.text);
        }
        rendered.push(component.text!.replace(PLACEHOLDER, (_, w: string) => values.get(w) ?? ''));
      }
      // The footer comes after the body whatever the order of the listing.
      const footer = t.components.find((c) => c.type.toUpperCase() === 'FOOTER')?.text;
      const text = [...rendered.filter((r) => r !== footer), ...(footer ? [footer] : [])].join('\n\n');
      const messageId = `wamid.${randomBytes(24).toString('base64url')}`;
      delivered.push({ from, to, name: t.name, language: t.language, text, components: given, messageId, at: Date.now() });
      return { messageId };
    },

    reset() {
      delivered.length = 0;
    },
  };
}

export type FakeTemplates = ReturnType<typeof createFakeTemplates>;
