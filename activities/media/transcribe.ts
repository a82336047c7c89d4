// Voice notes to text through OpenAI's audio transcription API (the official SDK; OPENAI_BASE_URL
// points it at any compatible server). maxRetries: 0 — Temporal retries the activity around it.
import OpenAI, { toFile } from 'openai';
import { ApplicationFailure } from '@temporalio/activity';
import { openAiError } from '../llm/openai.ts';
import { ProviderError } from '../llm/provider.ts';

export interface Transcriber {
  /** The model, recorded with each transcript. */
  readonly model: string;
  transcribe(audio: { bytes: Uint8Array; mimeType: string; filename: string }, signal?: AbortSignal): Promise<string>;
}

export const TRANSCRIPTION_FAILED = 'TranscriptionFailed';

export function createOpenAiTranscriber(options: { apiKey: string; baseURL?: string; model: string; timeoutMs?: number }): Transcriber {
  const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0 });
  return {
    model: options.model,
    async transcribe(audio, signal) {
      try {
        const file = await toFile(audio.bytes, audio.filename, { type: audio.mimeType });
        const result = await client.audio.transcriptions.create({ file, model: options.model }, { timeout: options.timeoutMs ?? 60_000, signal });
        return result.text.trim();
      } catch (err) {
        const failure = openAiError(err);
        if (!(failure instanceof ProviderError)) throw failure;
        // Throttling and outages are worth a retry; a refused file or key is not.
        if (failure.kind === 'throttled' || failure.kind === 'transient') throw ApplicationFailure.retryable(failure.message, TRANSCRIPTION_FAILED);
        throw ApplicationFailure.nonRetryable(failure.message, TRANSCRIPTION_FAILED);
      }
    },
  };
}
