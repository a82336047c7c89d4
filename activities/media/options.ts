// The media settings of a worker, from the process configuration.
import { DEFAULT_MEDIA_MAX_BYTES, DEFAULT_MEDIA_TYPES, type Config } from '../../lib/config.ts';
import type { MediaLimits } from './limits.ts';
import { createOpenAiTranscriber, type Transcriber } from './transcribe.ts';

export interface MediaOptions {
  limits: MediaLimits;
  /** Voice notes to text; unset: not transcribed. */
  transcriber?: Transcriber;
}

export const DEFAULT_MEDIA_OPTIONS: MediaOptions = {
  limits: { maxBytes: DEFAULT_MEDIA_MAX_BYTES, allowedTypes: DEFAULT_MEDIA_TYPES },
};

export function mediaOptionsFrom(config: Pick<Config, 'MEDIA_MAX_BYTES' | 'MEDIA_ALLOWED_TYPES' | 'TRANSCRIPTION_MODEL' | 'OPENAI_API_KEY' | 'OPENAI_BASE_URL'>): MediaOptions {
  const transcriber =
    config.TRANSCRIPTION_MODEL && config.OPENAI_API_KEY
      ? createOpenAiTranscriber({ apiKey: config.OPENAI_API_KEY, model: config.TRANSCRIPTION_MODEL, ...(config.OPENAI_BASE_URL && { baseURL: config.OPENAI_BASE_URL }) })
      : undefined;
  return { limits: { maxBytes: config.MEDIA_MAX_BYTES, allowedTypes: config.MEDIA_ALLOWED_TYPES }, ...(transcriber && { transcriber }) };
}
