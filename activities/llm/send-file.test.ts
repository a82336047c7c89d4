import { describe, expect, it } from 'vitest';
import { fileOfCall, requestedDocument, sendFileTool, type SendableDocument } from './send-file.ts';

const doc = (id: string, title: string): SendableDocument => ({
  id, title, attachment: { kind: 'document', key: `t/${id}`, mimeType: 'application/pdf', filename: `${id}.pdf`, sizeBytes: 10 },
});
const BROCHURE = doc('b', 'Bike brochure');
const PRICES = doc('p', 'Price list 2026');
const RETURNS = doc('r', 'Returns policy');
const DOCS = [BROCHURE, PRICES, RETURNS];

describe('requestedDocument (the offline provider)', () => {
  it('finds a document asked for by a word of its title next to a word for a file, or by its whole title', () => {
    expect(requestedDocument('Hi! Could you send me the bike brochure pdf, please?', DOCS)).toBe(BROCHURE);
    expect(requestedDocument('can you email me the price list', DOCS)).toBe(PRICES);
    expect(requestedDocument('Please send the returns policy', DOCS)).toBe(RETURNS);
  });

  it('sends nothing when nothing is asked to be sent, or no title is named', () => {
    expect(requestedDocument('What is in the bike brochure?', DOCS)).toBeNull();
    expect(requestedDocument('Can you send the bike to my address?', DOCS)).toBeNull();
    expect(requestedDocument('Send me the catalogue', DOCS)).toBeNull();
    expect(requestedDocument('send me the brochure', [])).toBeNull();
  });
});

describe('send_file calls', () => {
  const call = (args: unknown) => ({ id: 'c1', name: 'send_file', arguments: JSON.stringify(args) });

  it('names a document by its title (case aside) or id, with its message or a default one', () => {
    expect(fileOfCall(call({ document: 'bike BROCHURE', text: 'Here you go' }), DOCS)).toEqual({ document: BROCHURE, text: 'Here you go' });
    expect(fileOfCall(call({ document: 'p' }), DOCS)).toEqual({ document: PRICES, text: 'Here is Price list 2026.' });
  });

  it('names nothing for an unknown title or arguments that are not JSON', () => {
    expect(fileOfCall(call({ document: 'Secret plans', text: 'x' }), DOCS)).toBeNull();
    expect(fileOfCall({ id: 'c1', name: 'send_file', arguments: '{not json' }, DOCS)).toBeNull();
  });

  it('offers the titles as an enum', () => {
    expect(sendFileTool(DOCS).parameters).toMatchObject({ properties: { document: { enum: ['Bike brochure', 'Price list 2026', 'Returns policy'] } }, required: ['document', 'text'] });
  });
});
