// Meta's checks of interactive messages, as the fake Graph API applies them: WhatsApp reply
// buttons and lists (Cloud API "Interactive messages"), Messenger quick replies and the button
// template. Each returns Meta's error message for the first limit broken, or null.

const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;

export function whatsappInteractiveError(i: Record<string, any>): string | null {
  if (i.type === 'button') {
    if (!str(i.body?.text, 1024)) return "(#100) Param interactive['body']['text'] must be 1 to 1024 characters long.";
    const buttons = i.action?.buttons;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) return "(#131009) Parameter value is not valid: interactive['action']['buttons'] must have 1 to 3 buttons.";
    for (const b of buttons) {
      if (b?.type !== 'reply') return "(#100) Param interactive['action']['buttons'][]['type'] must be one of {REPLY}.";
      if (!str(b.reply?.id, 256)) return "(#100) Param interactive['action']['buttons'][]['reply']['id'] must be 1 to 256 characters long.";
      if (!str(b.reply?.title, 20)) return "(#100) Param interactive['action']['buttons'][]['reply']['title'] must be 1 to 20 characters long.";
    }
    if (new Set(buttons.map((b: any) => b.reply.id)).size !== buttons.length) return '(#131009) Parameter value is not valid: button ids must be unique.';
    return null;
  }
  if (i.type === 'list') {
    if (!str(i.body?.text, 4096)) return "(#100) Param interactive['body']['text'] must be 1 to 4096 characters long.";
    if (!str(i.action?.button, 20)) return "(#100) Param interactive['action']['button'] must be 1 to 20 characters long.";
    const sections = i.action?.sections;
    if (!Array.isArray(sections) || sections.length < 1 || sections.length > 10) return "(#131009) Parameter value is not valid: interactive['action']['sections'] must have 1 to 10 sections.";
    const rows = sections.flatMap((s: any) => (Array.isArray(s?.rows) ? s.rows : []));
    if (rows.length < 1 || rows.length > 10) return '(#131009) Parameter value is not valid: a list has 1 to 10 rows in all.';
    for (const r of rows) {
      if (!str(r?.id, 200)) return "(#100) Param interactive['action']['sections'][]['rows'][]['id'] must be 1 to 200 characters long.";
      if (!str(r?.title, 24)) return "(#100) Param interactive['action']['sections'][]['rows'][]['title'] must be 1 to 24 characters long.";
      if (r.description !== undefined && !str(r.description, 72)) return "(#100) Param interactive['action']['sections'][]['rows'][]['description'] must be at most 72 characters long.";
    }
    return null;
  }
  return `(#100) Param interactive['type'] must be one of {BUTTON, LIST, PRODUCT, PRODUCT_LIST, CTA_URL, FLOW} - got "${String(i.type)}".`;
}

export const MESSENGER_TAGS = ['HUMAN_AGENT', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE'];

/** Quick replies on a text message. */
export function messengerQuickRepliesError(quickReplies: unknown): string | null {
  if (!Array.isArray(quickReplies) || quickReplies.length < 1 || quickReplies.length > 13) return '(#100) Param message[quick_replies] must have 1 to 13 items';
  for (const q of quickReplies) {
    if (q?.content_type !== 'text') return '(#100) Param message[quick_replies][][content_type] must be one of {TEXT, USER_PHONE_NUMBER, USER_EMAIL}';
    if (!str(q.title, 20)) return '(#100) Param message[quick_replies][][title] must be 1 to 20 characters';
    if (!str(q.payload, 1000)) return '(#100) Param message[quick_replies][][payload] must be 1 to 1000 characters';
  }
  return null;
}

/** A template attachment (the button template only). */
export function messengerTemplateError(payload: Record<string, any> | undefined): string | null {
  if (payload?.template_type !== 'button') return '(#100) Param message[attachment][payload][template_type] must be one of {BUTTON, GENERIC, MEDIA}';
  if (!str(payload.text, 640)) return '(#100) Param message[attachment][payload][text] must be 1 to 640 characters';
  const buttons = payload.buttons;
  if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) return '(#100) Param message[attachment][payload][buttons] must have 1 to 3 buttons';
  for (const b of buttons) {
    if (b?.type !== 'postback') return '(#100) Param message[attachment][payload][buttons][][type] must be one of {POSTBACK, WEB_URL, PHONE_NUMBER}';
    if (!str(b.title, 20)) return '(#100) Param message[attachment][payload][buttons][][title] must be 1 to 20 characters';
    if (!str(b.payload, 1000)) return '(#100) Param message[attachment][payload][buttons][][payload] must be 1 to 1000 characters';
  }
  return null;
}
