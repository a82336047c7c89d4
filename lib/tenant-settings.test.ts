import { describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_SETTINGS, mergeSettings, parseTenantSettings, tenantSettingsSchema, validateStoredSettings } from './tenant-settings.ts';

describe('tenant settings', () => {
  it('fills every default from nothing', () => {
    expect(DEFAULT_TENANT_SETTINGS).toEqual({
      locale: 'en',
      handoff: { keywords: ['human', 'agent', 'person'], agentInactivityMinutes: 30 },
      conversation: { quietWindowMs: 1500, idleCloseHours: 24, floodMaxPerMinute: 20 },
      llm: {
        provider: 'local',
        fallbackProvider: 'local',
        temperature: 0.2,
        maxTokens: 512,
        systemPrompt: {},
        historyTurns: 12,
        maxToolIterations: 5,
        turnBudgetSeconds: 60,
        budgetExhaustedMessage: "Sorry, I can't answer right now. Please try again later, or ask for a person.",
        unavailableMessage: "Sorry, I'm having trouble answering right now. Please try again in a moment, or ask for a person.",
        handoffButton: false,
        sendFiles: true,
      },
      commerce: { order: { handledBy: 'assistant' }, flow: { handledBy: 'assistant' } },
      privacy: { redactPii: true },
      rag: { embeddingModel: 'local-hash-384', language: 'simple', topK: 5, vectorWeight: 1, textWeight: 1, rrfK: 60, minScore: 0, minSimilarity: 0.05 },
      webchat: { allowedOrigins: [], streaming: true },
    });
    expect(tenantSettingsSchema.parse({ handoff: { keywords: ['humano'] } }).handoff).toEqual({ keywords: ['humano'], agentInactivityMinutes: 30 });
  });

  it('rejects unknown fields and bad values', () => {
    expect(() => validateStoredSettings({ nope: 1 })).toThrow();
    expect(() => validateStoredSettings({ llm: { provider: 'gpt' } })).toThrow();
    expect(() => validateStoredSettings({ webchat: { allowedOrigins: ['javascript:alert(1)'] } })).toThrow();
  });

  it('merges patches deeply, arrays replace, null removes', () => {
    const stored = { locale: 'de', llm: { provider: 'openai', model: 'gpt-4o-mini' } };
    expect(mergeSettings(stored, { llm: { temperature: 0.5 }, locale: null })).toEqual({ llm: { provider: 'openai', model: 'gpt-4o-mini', temperature: 0.5 } });
  });

  it('falls back to defaults field by field for a stored value that no longer validates', () => {
    const parsed = parseTenantSettings({ locale: 'fr', llm: { provider: 'retired' } });
    expect(parsed.locale).toBe('fr');
    expect(parsed.llm).toEqual(DEFAULT_TENANT_SETTINGS.llm);
  });
});
