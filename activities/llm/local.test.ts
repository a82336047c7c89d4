// The offline provider's extractive answers (activities/llm/local.ts, local-terms.ts).
import { describe, expect, it } from 'vitest';
import type { Passage } from '../rag.ts';
import { localReply, MIN_COVERAGE, rankSentences } from './local.ts';
import { answerLanguage, termAnalyzer } from './local-terms.ts';

const passage = (content: string, title = 'Store guide', page: number | null = null): Passage => ({
  chunkId: 'c1', documentId: 'd1', title, page, section: null, content, score: 1,
});
const ask = (question: string, passages: Passage[]) => localReply({ question, passages, history: [], attachments: [], handoffKeyword: 'human' });
const answer = (question: string, passages: Passage[]) => ask(question, passages).text.split('\n\n')[0];

const RETURNS = passage(
  '# Returns\n\n## Returning an item\n\nBikes can be returned within 30 days of delivery.\nAccessories can be returned within 60 days.\n\n' +
    '## Refunds\n\nRefunds are paid to the original payment method within 5 business days.\n\n## Shipping\n\nStandard delivery costs £4.95. Orders over £50 ship free.',
  'Returns and refunds',
);

describe('local provider', () => {
  it('answers with the sentences that answer, and cites their document', () => {
    const reply = ask('When does the workshop open on Saturdays?', [
      passage('The workshop opens at eight on weekdays. It opens at ten on Saturdays. Parking is free.', 'Guide', 3),
    ]);
    expect(reply.text).toBe('The workshop opens at eight on weekdays. It opens at ten on Saturdays.\n\nSources:\n[1] Guide, p. 3');
    expect(reply.citations).toEqual([{ documentId: 'd1', chunkId: 'c1', title: 'Guide', page: 3 }]);
  });

  it('matches other word forms and synonyms: "return a bike" finds "Bikes can be returned"', () => {
    expect(answer('Can I return a bike?', [RETURNS])).toBe('Bikes can be returned within 30 days of delivery.');
    expect(answer('Can bicycles be returned?', [RETURNS])).toBe('Bikes can be returned within 30 days of delivery.');
  });

  it('prefers the sentence with the kind of fact asked for, and keeps amounts and addresses whole', () => {
    expect(answer('How much does shipping cost?', [RETURNS])).toBe('Standard delivery costs £4.95.');
    expect(answer('Where does my refund go?', [RETURNS])).toBe('Refunds are paid to the original payment method within 5 business days.');
  });

  it('answers "how often", "how much"… with a sentence giving that fact before one that only shares more words', () => {
    const servicing = passage('Bikes serviced by an unauthorised workshop lose their warranty.\nWe recommend a service every 6 months.', 'Servicing');
    expect(answer('How often should my bike be serviced?', [servicing])).toBe('We recommend a service every 6 months.');
  });

  it('reads a passage\'s section as the heading where it starts, not as the heading of its later parts', () => {
    const guide = { ...passage('# Opening hours\n\nThe store opens at 9 am on weekdays and at 11 am on Sundays.\n\n# Returns\n\nBikes can be returned within 30 days.', 'Store guide'), section: 'Opening hours' };
    // "When" asks for a time or a date as much as for a duration: "within 30 days" does not answer it.
    expect(answer('When does the store open on Sundays?', [guide])).toBe('The store opens at 9 am on weekdays and at 11 am on Sundays.');
    const returns = rankSentences('When does the store open on Sundays?', [guide]).find((r) => r.text.startsWith('Bikes'));
    expect(returns?.coverage ?? 0).toBeLessThan(MIN_COVERAGE);
  });

  it('matches a quantity the question names with any quantity of its kind, and closing times with opening hours', () => {
    expect(answer('I changed my mind, can I still return my bike after three weeks?', [RETURNS])).toBe('Bikes can be returned within 30 days of delivery.');
    const hours = passage('The store is open Monday to Friday from 9 am to 7 pm.\nParking is free for 2 hours.', 'Opening hours');
    expect(answer('What time does the store close?', [hours])).toBe('The store is open Monday to Friday from 9 am to 7 pm.');
  });

  it('reads "e-bike" as an electric bike, and a named kind of fact ("range", "top speed") as asking for one', () => {
    const bikes = passage('## E-bikes\n\nThe range on one charge is up to 100 km.\nE-bikes are limited to 25 km/h of motor assistance.', 'Product FAQ');
    expect(answer('What is the range of the electric bikes?', [bikes])).toBe('The range on one charge is up to 100 km.');
    expect(answer('What is the top speed of the motor assistance?', [bikes])).toBe('E-bikes are limited to 25 km/h of motor assistance.');
    expect(termAnalyzer('english').terms('e-bike e-mail')).toEqual(termAnalyzer('english').terms('electric bike email'));
  });

  it('is not put off by everyday words the passages lack, and prefers the speed asked for', () => {
    expect(answer('Something is wrong, how long do refunds take?', [RETURNS])).toBe('Refunds are paid to the original payment method within 5 business days.');
    const bikes = passage('E-bikes can be returned within 30 days.\nE-bikes are limited to 25 km/h of motor assistance.', 'E-bikes');
    expect(answer('How fast do e-bikes go?', [bikes])).toBe('E-bikes are limited to 25 km/h of motor assistance.');
  });

  it('matches the words the word net relates to the question\'s: "Germany" finds the EU, "USA" the United States', () => {
    const shop = passage(
      'Accessories and clothing can be returned within 60 days.\nWe ship to all EU countries, Norway and Switzerland.\nWe do not ship to the United States or Canada.\nWe repair bikes in our workshop.',
      'Shop guide',
    );
    expect(answer('Do you ship to Germany?', [shop])).toBe('We ship to all EU countries, Norway and Switzerland.');
    expect(answer('Do you deliver to the USA?', [shop])).toBe('We do not ship to the United States or Canada.');
    // A motorbike is a kind of bike in the word net, but the more general words are not followed.
    expect(ask('Do you repair motorbikes?', [shop]).unanswered).toBe(true);
  });

  it('never answers with a heading', () => {
    expect(rankSentences('refunds', [RETURNS]).map((s) => s.text)).not.toContain('Refunds');
  });

  it('declines and offers a person when the passages are about something else', () => {
    for (const question of ['Do you sell skateboards?', 'Can I bring my dog into the shop?', 'What is the capital of Australia?', 'Do you offer bike insurance?']) {
      const reply = ask(question, [RETURNS]);
      expect(reply.unanswered, question).toBe(true);
      expect(reply.text).toContain('Reply "human"');
      expect(reply.citations).toEqual([]);
    }
  });
});

describe('local provider terms', () => {
  it('stems in the tenant language, or in its locale while the text search language is simple', () => {
    expect(termAnalyzer('english').terms('The bikes were returned')).toEqual(['bike', 'return']);
    expect(termAnalyzer('english').terms('paid for worn tyres she rode')).toEqual(termAnalyzer('english').terms('pay for wear tyres she rides'));
    expect(termAnalyzer('german').terms('Die Minuten')).toEqual(termAnalyzer('german').terms('Minute'));
    expect(answerLanguage({ locale: 'pt-BR', rag: { language: 'simple' } })).toBe('portuguese');
    expect(answerLanguage({ locale: 'en', rag: { language: 'german' } })).toBe('german');
    expect(answerLanguage({ locale: 'xx', rag: { language: 'simple' } })).toBe('simple');
    expect(termAnalyzer('simple').terms('Bikes returned')).toEqual(['bikes', 'returned']);
  });

  it('rates how much each word tells: rare in everyday English, and a noun more than a verb; every word fully where there is no list', () => {
    const saliences = termAnalyzer('english').saliences('What happens to my skateboard?');
    expect(saliences.get('skateboard')).toBe(1);
    expect(saliences.get(termAnalyzer('english').terms('happens')[0]!)).toBeLessThan(0.9);
    const english = termAnalyzer('english');
    const [drop, dog] = ['drop', 'dog'].map((w) => english.saliences(w).get(english.terms(w)[0]!)!);
    expect(drop).toBeLessThan(dog!);
    expect([...termAnalyzer('german').saliences('Was passiert mit meinem Skateboard?').values()].every((r) => r === 1)).toBe(true);
  });
});
