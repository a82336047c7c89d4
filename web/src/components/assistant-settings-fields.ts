// Every assistant setting the settings API has (lib/tenant-settings.ts), as form fields: where it
// sits in the settings (its dotted path, which is also how the API's 400 names it), how it is
// edited, and the simple rules checked before sending (ranges, whole numbers). Rules that need
// the server's knowledge (a BCP 47 tag, an origin's shape) are left to its 400, shown at the field.

export type FieldKind =
  | { type: 'select'; options: readonly string[] }
  | { type: 'number'; min: number; max: number; step: number; integer?: boolean }
  | { type: 'text'; maxLength: number }
  | { type: 'textarea'; maxLength: number }
  /** On or off (a boolean setting). */
  | { type: 'toggle' }
  /** A list of strings: comma-separated on one line, or one per line. */
  | { type: 'list'; separator: 'comma' | 'line'; maxItems: number; maxLength: number };

export interface SettingField {
  path: string;
  label: string;
  hint?: string;
  kind: FieldKind;
  /** Optional in the settings: an empty value removes it (the default, or none, applies). */
  optional?: boolean;
  /** Cannot be empty. */
  required?: boolean;
}

export interface SettingGroup {
  id: string;
  title: string;
  fields: SettingField[];
}

const PROVIDERS = ['local', 'openai', 'anthropic'] as const;
// As lib/embedding-models.ts and lib/tenant-settings.ts list them (the settings' schema is not typed in the OpenAPI document).
const EMBEDDING_MODELS = ['local-hash-384', 'all-minilm-l6-v2-int8', 'text-embedding-3-small'] as const;
const LANGUAGES = [
  'simple', 'arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english', 'finnish', 'french', 'german', 'greek', 'hindi',
  'hungarian', 'indonesian', 'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese', 'romanian', 'russian', 'serbian',
  'spanish', 'swedish', 'tamil', 'turkish', 'yiddish',
] as const;

const int = (min: number, max: number): FieldKind => ({ type: 'number', min, max, step: 1, integer: true });

export const SETTING_GROUPS: SettingGroup[] = [
  {
    id: 'model',
    title: 'Model',
    fields: [
      { path: 'llm.provider', label: 'Provider', hint: 'local answers offline from your documents; OpenAI and Anthropic need a key.', kind: { type: 'select', options: PROVIDERS } },
      { path: 'llm.model', label: 'Model', hint: "Empty: the provider's default.", kind: { type: 'text', maxLength: 128 }, optional: true },
      { path: 'llm.temperature', label: 'Temperature', hint: '0 to 2: higher is more varied.', kind: { type: 'number', min: 0, max: 2, step: 0.1 } },
      { path: 'llm.maxTokens', label: 'Max tokens per answer', hint: '1 to 32000.', kind: int(1, 32_000) },
      { path: 'llm.fallbackProvider', label: 'Fallback provider', hint: 'Answers when the provider fails for good.', kind: { type: 'select', options: PROVIDERS } },
      { path: 'llm.fallbackModel', label: 'Fallback model', hint: "Empty: the fallback provider's default.", kind: { type: 'text', maxLength: 128 }, optional: true },
      { path: 'llm.maxToolIterations', label: 'Model calls per turn', hint: 'When the model keeps calling tools: 1 to 20.', kind: int(1, 20) },
      { path: 'llm.historyTurns', label: 'Turns remembered verbatim', hint: 'Older turns reach the model as a summary: 2 to 40.', kind: int(2, 40) },
      { path: 'llm.turnBudgetSeconds', label: 'Time per turn (seconds)', hint: 'Every model and tool call of one answer: 5 to 300.', kind: int(5, 300) },
    ],
  },
  {
    id: 'prompt',
    title: 'Prompt',
    fields: [
      { path: 'llm.systemPrompt.brand', label: 'Brand', hint: 'The name the assistant speaks for.', kind: { type: 'text', maxLength: 200 }, optional: true },
      { path: 'llm.systemPrompt.persona', label: 'Persona', hint: 'Who the assistant is.', kind: { type: 'textarea', maxLength: 4000 }, optional: true },
      { path: 'llm.systemPrompt.tone', label: 'Tone', hint: 'e.g. friendly and brief.', kind: { type: 'text', maxLength: 500 }, optional: true },
      { path: 'llm.systemPrompt.instructions', label: 'Instructions', hint: 'House rules added to every prompt.', kind: { type: 'textarea', maxLength: 8000 }, optional: true },
      { path: 'llm.systemPrompt.fallback', label: "When the documents don't answer", hint: 'What to say instead.', kind: { type: 'textarea', maxLength: 2000 }, optional: true },
      { path: 'locale', label: 'Language', hint: 'A BCP 47 tag such as en or pt-BR.', kind: { type: 'text', maxLength: 35 }, required: true },
    ],
  },
  {
    id: 'budget',
    title: 'Budget and polite messages',
    fields: [
      { path: 'llm.dailyBudgetUsd', label: 'Daily budget (USD)', hint: "Model calls and embeddings per UTC day. Empty: the platform's default.", kind: { type: 'number', min: 0, max: 1_000_000, step: 0.01 }, optional: true },
      { path: 'llm.budgetExhaustedMessage', label: 'Message once the budget is spent', kind: { type: 'textarea', maxLength: 1000 }, required: true },
      { path: 'llm.unavailableMessage', label: 'Message when no model answers', kind: { type: 'textarea', maxLength: 1000 }, required: true },
    ],
  },
  {
    id: 'retrieval',
    title: 'Retrieval',
    fields: [
      { path: 'rag.topK', label: 'Passages per answer', hint: '1 to 20.', kind: int(1, 20) },
      { path: 'rag.minScore', label: 'Minimum score', hint: '0 to 1: weaker passages are dropped.', kind: { type: 'number', min: 0, max: 1, step: 0.01 } },
      { path: 'rag.minSimilarity', label: 'Minimum similarity', hint: '-1 to 1 (cosine) for vector candidates.', kind: { type: 'number', min: -1, max: 1, step: 0.01 } },
      { path: 'rag.vectorWeight', label: 'Vector weight', hint: '0 to 10.', kind: { type: 'number', min: 0, max: 10, step: 0.1 } },
      { path: 'rag.textWeight', label: 'Full-text weight', hint: '0 to 10.', kind: { type: 'number', min: 0, max: 10, step: 0.1 } },
      { path: 'rag.rrfK', label: 'Rank fusion constant', hint: '1 to 1000.', kind: int(1, 1000) },
      { path: 'rag.embeddingModel', label: 'Embedding model', hint: 'local-hash-384 matches words, all-minilm-l6-v2-int8 meaning (both offline); text-embedding-3-small needs an OpenAI key. Changing it re-embeds your documents in the background.', kind: { type: 'select', options: EMBEDDING_MODELS } },
      { path: 'rag.language', label: 'Full-text language', hint: 'Changing it re-indexes your documents in the background.', kind: { type: 'select', options: LANGUAGES } },
      { path: 'llm.sendFiles', label: "Send documents' files", hint: "The assistant may send a document's original file (a PDF price list, a brochure) when a customer asks for it.", kind: { type: 'toggle' } },
    ],
  },
  {
    id: 'privacy',
    title: 'Privacy',
    fields: [
      {
        path: 'privacy.redactPii',
        label: 'Hide personal data from the model',
        hint: "Emails, phone numbers, card numbers and IBANs reach OpenAI or Anthropic as placeholders; the customer's reply shows them as written.",
        kind: { type: 'toggle' },
      },
    ],
  },
  {
    id: 'handoff',
    title: 'Handoff and conversations',
    fields: [
      { path: 'handoff.keywords', label: 'Handoff keywords', hint: 'Comma-separated words that ask for a person.', kind: { type: 'list', separator: 'comma', maxItems: 50, maxLength: 64 } },
      { path: 'handoff.agentInactivityMinutes', label: 'Back to the assistant after (minutes)', hint: "An agent's silence: 1 to 10080.", kind: int(1, 7 * 24 * 60) },
      { path: 'conversation.quietWindowMs', label: 'Quiet window (ms)', hint: 'Messages within it are answered together: 0 to 60000.', kind: int(0, 60_000) },
      { path: 'conversation.idleCloseHours', label: 'Close after idle (hours)', hint: '1 to 2160.', kind: int(1, 24 * 90) },
      { path: 'conversation.floodMaxPerMinute', label: 'Flood guard (messages per minute)', hint: '1 to 1000.', kind: int(1, 1000) },
      { path: 'webchat.allowedOrigins', label: 'Web chat origins', hint: 'One per line, e.g. https://shop.example.com.', kind: { type: 'list', separator: 'line', maxItems: 50, maxLength: 255 } },
    ],
  },
];

export const SETTING_FIELDS: SettingField[] = SETTING_GROUPS.flatMap((g) => g.fields);

/** The value at a dotted path. */
export function valueAt(settings: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), settings);
}

/** A setting's value as the form shows it. */
export function formText(field: SettingField, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (Array.isArray(value)) return value.join(field.kind.type === 'list' && field.kind.separator === 'line' ? '\n' : ', ');
  return String(value);
}

/**
 * The form's text as a setting, or the reason it cannot be one. `null`: removed (an emptied
 * optional field).
 */
export function parseField(field: SettingField, text: string): { value: unknown } | { error: string } {
  const kind = field.kind;
  const trimmed = text.trim();
  if (kind.type === 'list') {
    const items = (kind.separator === 'comma' ? trimmed.split(',') : trimmed.split('\n')).map((s) => s.trim()).filter(Boolean);
    if (items.length > kind.maxItems) return { error: `At most ${kind.maxItems} entries` };
    const long = items.find((i) => i.length > kind.maxLength);
    if (long) return { error: `"${long.slice(0, 20)}…" is longer than ${kind.maxLength} characters` };
    return { value: items };
  }
  if (!trimmed) {
    if (field.optional) return { value: null };
    if (field.required || kind.type === 'number' || kind.type === 'select' || kind.type === 'toggle') return { error: 'Required' };
  }
  if (kind.type === 'number') {
    const n = Number(trimmed);
    if (!Number.isFinite(n)) return { error: 'Must be a number' };
    if (kind.integer && !Number.isInteger(n)) return { error: 'Must be a whole number' };
    if (n < kind.min || n > kind.max) return { error: `Must be from ${kind.min} to ${kind.max}` };
    return { value: n };
  }
  if ((kind.type === 'text' || kind.type === 'textarea') && trimmed.length > kind.maxLength) return { error: `At most ${kind.maxLength} characters` };
  if (kind.type === 'select' && !kind.options.includes(trimmed)) return { error: `One of ${kind.options.join(', ')}` };
  if (kind.type === 'toggle') return trimmed === 'on' || trimmed === 'off' ? { value: trimmed === 'on' } : { error: 'On or off' };
  return { value: kind.type === 'textarea' ? text.trim() : trimmed };
}

/** Sets a dotted path in a nested patch object. */
export function setAt(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys.at(-1)!] = value;
}

/** Every leaf of a settings object by dotted path (arrays are leaves). */
export function flatten(value: unknown, prefix = ''): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return prefix ? { [prefix]: value } : {};
  return Object.assign({}, ...Object.entries(value).map(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k)));
}

/** The label of a dotted path, or the path itself when no field names it. */
export const labelOf = (path: string): string => SETTING_FIELDS.find((f) => f.path === path)?.label ?? path;
