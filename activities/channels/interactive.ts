// How each channel shows choices offered with a message (workflows/types.ts ChoiceSet), within
// Meta's limits (lib/choices.ts): the richest form the choices fit, else numbered lines of text.
// The customer's pick comes back as an ordinary message (api/webhooks/normalize.ts): WhatsApp
// `interactive.button_reply` / `list_reply` with our id, Messenger `postback.payload` or
// `quick_reply.payload`, and its title as the text the assistant reads.
import { CHOICE_LIMITS as L } from '../../lib/choices.ts';

export { choicesAsText } from '../../lib/choices.ts';
import type { ChoiceSet } from '../../workflows/types.ts';

/** Reply buttons when the choices fit them, else a list when they fit one, else none (text). */
export function whatsappStyle(choices: ChoiceSet): 'buttons' | 'list' | null {
  const { items } = choices;
  if (items.length <= L.whatsappButtons && items.every((i) => i.title.length <= L.whatsappButtonTitleMax && !i.description)) return 'buttons';
  if (items.length <= L.maxItems && items.every((i) => i.title.length <= L.titleMax)) return 'list';
  return null;
}

/** The longest body an interactive message of this style takes (longer text goes first as text parts). */
export function whatsappBodyLimit(style: 'buttons' | 'list'): number {
  return style === 'buttons' ? L.whatsappButtonBodyMax : L.whatsappListBodyMax;
}

/** The Cloud API's `interactive` object for `body` and the choices. */
export function whatsappInteractive(body: string, choices: ChoiceSet, style: 'buttons' | 'list'): Record<string, unknown> {
  if (style === 'buttons') {
    return { type: 'button', body: { text: body }, action: { buttons: choices.items.map((i) => ({ type: 'reply', reply: { id: i.id, title: i.title } })) } };
  }
  return {
    type: 'list',
    body: { text: body },
    action: {
      button: choices.button ?? 'Options',
      sections: [{ rows: choices.items.map((i) => ({ id: i.id, title: i.title, ...(i.description && { description: i.description }) })) }],
    },
  };
}

/** A button template (whole text within its limit, up to 3 choices), else quick replies, else none (text). */
export function messengerStyle(text: string, choices: ChoiceSet): 'buttons' | 'quick_replies' | null {
  const { items } = choices;
  if (!items.every((i) => i.title.length <= L.messengerTitleMax)) return null;
  if (items.length <= L.messengerButtons && text.length <= L.messengerButtonTextMax) return 'buttons';
  return items.length <= L.messengerQuickReplies ? 'quick_replies' : null;
}

/** The Send API's `message` for `text` (one part) with the choices in this style. */
export function messengerMessage(text: string, choices: ChoiceSet, style: 'buttons' | 'quick_replies'): Record<string, unknown> {
  if (style === 'buttons') {
    return {
      attachment: {
        type: 'template',
        payload: { template_type: 'button', text, buttons: choices.items.map((i) => ({ type: 'postback', title: i.title, payload: i.id })) },
      },
    };
  }
  return { text, quick_replies: choices.items.map((i) => ({ content_type: 'text', title: i.title, payload: i.id })) };
}
