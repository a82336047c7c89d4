// The offline provider's extractive answers (activities/llm/local.ts).
import { describe, expect, it } from 'vitest';
import type { Passage } from '../rag.ts';
import { localReply } from './local.ts';

const passage = (content: string, title = 'Store guide', page: number | null = null): Passage => ({
  chunkId: 'c1', documentId: 'd1', title, page, section: null, content, score: 1,
});
const ask = (question: string, passages: Passage[]) => localReply({ question, passages, history: [], attachments: [], handoffKeyword: 'human' });

describe('local provider', () => {
  it('answers with the sentences that share words with the question, and cites their document', () => {
    const reply = ask('When does the workshop open on Saturdays?', [
      passage('The workshop opens at eight on weekdays. It opens at ten on Saturdays. Parking is free.', 'Guide', 3),
    ]);
    expect(reply.text).toBe('The workshop opens at eight on weekdays. It opens at ten on Saturdays.\n\nSources:\n[1] Guide, p. 3');
    expect(reply.citations).toEqual([{ documentId: 'd1', chunkId: 'c1', title: 'Guide', page: 3 }]);
  });

  it('treats Markdown headings and list items as their own sentences, without their markers', () => {
    const reply = ask('Can I return a bike?', [passage('# Opening hours\n\nWe open at eight.\n\n## Returns\n\n- Bikes can be returned within 30 days\n- Keep the receipt')]);
    expect(reply.text.split('\n\n')[0]).toBe('Bikes can be returned within 30 days');
  });

  it('offers a person when nothing in the passages matches', () => {
    expect(ask('Do you sell scooters?', [passage('We open at eight.')]).text).toContain('Reply "human"');
  });
});
