// Choices offered to a customer with a message (workflows/types.ts ChoiceSet), within Meta's
// limits. The API checks an agent's choices against them (a 400 names the limit); the
// assistant's are fitted instead (fitChoices), since a model cannot be told off mid-turn.
//
// Meta's limits (Cloud API "Interactive messages", Messenger "Quick replies" and "Button template"):
//   WhatsApp reply buttons  ≤ 3 buttons, title ≤ 20, id ≤ 256, body ≤ 1024
//   WhatsApp list           ≤ 10 rows, row title ≤ 24, description ≤ 72, id ≤ 200, button ≤ 20, body ≤ 4096
//   Messenger button template ≤ 3 postback buttons, title ≤ 20, payload ≤ 1000, text ≤ 640
//   Messenger quick replies ≤ 13, title ≤ 20, payload ≤ 1000
// What a channel cannot show as asked (a 24-character title on Messenger, 12 choices on WhatsApp)
// goes out as numbered lines of text, which the customer answers by typing.
import { z } from 'zod';

export const CHOICE_LIMITS = {
  maxItems: 10,
  titleMax: 24,
  descriptionMax: 72,
  idMax: 200,
  buttonMax: 20,
  whatsappButtons: 3,
  whatsappButtonTitleMax: 20,
  whatsappButtonBodyMax: 1024,
  whatsappListBodyMax: 4096,
  messengerButtons: 3,
  messengerButtonTextMax: 640,
  messengerQuickReplies: 13,
  messengerTitleMax: 20,
} as const;

const L = CHOICE_LIMITS;

export const choiceSetSchema = z
  .object({
    items: z
      .array(
        z
          .object({
            id: z.string().trim().min(1).max(L.idMax).describe('Comes back with the customer\'s pick'),
            title: z.string().trim().min(1).max(L.titleMax).describe(`At most ${L.titleMax} characters (buttons: ${L.whatsappButtonTitleMax})`),
            description: z.string().trim().min(1).max(L.descriptionMax).optional().describe('WhatsApp lists only'),
          })
          .strict(),
      )
      .min(1)
      .max(L.maxItems)
      .refine((items) => new Set(items.map((i) => i.id)).size === items.length, 'ids must be unique'),
    button: z.string().trim().min(1).max(L.buttonMax).optional().describe('The label of the button that opens a WhatsApp list'),
  })
  .strict()
  .describe(`Options sent with the text: WhatsApp reply buttons (up to ${L.whatsappButtons}) or a list (up to ${L.maxItems}), Messenger a button template or quick replies, web chat buttons, Instagram numbered lines`);

export type ChoiceSetInput = z.infer<typeof choiceSetSchema>;

/** `text` cut to `max` characters with an ellipsis. */
function cut(text: string, max: number): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1).trimEnd()}…`;
}

/**
 * The assistant's choices within the limits: titles and descriptions shortened, at most
 * maxItems, ids made unique (the title's when the model gave none). Null when nothing is left.
 */
export function fitChoices(raw: unknown): ChoiceSetInput | null {
  const items = Array.isArray(raw) ? raw : [];
  const seen = new Set<string>();
  const fitted: ChoiceSetInput['items'] = [];
  for (const item of items) {
    if (fitted.length >= L.maxItems) break;
    const value = typeof item === 'string' ? { title: item } : (item as { id?: unknown; title?: unknown; description?: unknown } | null);
    const title = typeof value?.title === 'string' ? cut(value.title, L.titleMax) : '';
    if (!title) continue;
    let id = cut(typeof value?.id === 'string' && value.id.trim() ? value.id : title, L.idMax);
    while (seen.has(id)) id = cut(`${id}_`, L.idMax);
    seen.add(id);
    const description = typeof value?.description === 'string' && value.description.trim() ? cut(value.description, L.descriptionMax) : undefined;
    fitted.push({ id, title, ...(description && { description }) });
  }
  return fitted.length > 0 ? { items: fitted } : null;
}

/** The text with the choices as numbered lines: what a channel without buttons (Instagram) shows, or choices no button fits. */
export function choicesAsText(text: string, choices: { items: { title: string; description?: string }[] }): string {
  const lines = choices.items.map((i, n) => `${n + 1}. ${i.title}${i.description ? ` (${i.description})` : ''}`);
  return `${text.trim()}\n\n${lines.join('\n')}`;
}
