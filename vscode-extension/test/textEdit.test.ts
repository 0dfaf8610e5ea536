import { describe, expect, it } from 'vitest';

import { minimalReplacement } from '../src/textEdit';

const apply = (text: string, r: ReturnType<typeof minimalReplacement>) =>
  r ? text.slice(0, r.start) + r.text + text.slice(r.end) : text;

describe('minimalReplacement', () => {
  it('replaces only what changed', () => {
    const original = 'You are an agent.\nWork in /app.\n';
    const proposed = 'You are an agent.\nWork in /app.\nNever open vim.\n';
    const r = minimalReplacement(original, proposed);
    expect(r).toEqual({ start: original.length, end: original.length, text: 'Never open vim.\n' });
    expect(apply(original, r)).toBe(proposed);
  });

  it('handles deletions, edits in the middle and identical texts', () => {
    expect(minimalReplacement('a\nb\nc\n', 'a\nc\n')).toEqual({ start: 2, end: 4, text: '' });
    expect(apply('one two three', minimalReplacement('one two three', 'one 2 three'))).toBe('one 2 three');
    expect(minimalReplacement('same', 'same')).toBeUndefined();
  });

  it('never splits a surrogate pair', () => {
    const original = 'x😀y';
    const proposed = 'x😁y';
    const r = minimalReplacement(original, proposed)!;
    expect(r.text).toBe('😁');
    expect(apply(original, r)).toBe(proposed);
  });

  it('round-trips random edits', () => {
    const alphabet = ['a', 'b', '\n', '😀', ' '];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = () => Array.from({ length: random(12) }, () => alphabet[random(alphabet.length)]).join('');
    for (let i = 0; i < 500; i++) {
      const original = word();
      const proposed = word();
      expect(apply(original, minimalReplacement(original, proposed))).toBe(proposed);
    }
  });
});
