import { describe, expect, it } from 'vitest';

import { targetId, wholeNumberProblem } from '../src/commandArgs';

describe('targetId', () => {
  it('reads the id from a code action argument, a side bar node or a plain id', () => {
    expect(targetId({ proposal: 'p-1' }, 'proposal')).toBe('p-1');
    expect(targetId({ id: 'proposal:p-1', label: 'p-1' }, 'proposal')).toBe('p-1');
    expect(targetId('p-1', 'proposal')).toBe('p-1');
    expect(targetId({ id: 'weakness:interactive-program:evidence:0' }, 'weakness')).toBe('interactive-program');
    expect(targetId({ id: 'job:3' }, 'job')).toBe('3');
  });

  it('is undefined when the palette gave nothing or another kind', () => {
    expect(targetId(undefined, 'proposal')).toBeUndefined();
    expect(targetId({ id: 'weakness:w' }, 'proposal')).toBeUndefined();
    expect(targetId({ proposal: '' }, 'proposal')).toBeUndefined();
  });
});

describe('wholeNumberProblem', () => {
  it('accepts empty (the default) and whole numbers from the minimum', () => {
    expect(wholeNumberProblem('', 1)).toBeUndefined();
    expect(wholeNumberProblem(' 3 ', 1)).toBeUndefined();
    expect(wholeNumberProblem('0', 1)).toBe('a whole number of at least 1');
    expect(wholeNumberProblem('2.5', 1)).toBe('a whole number of at least 1');
    expect(wholeNumberProblem('many', 1)).toBe('a whole number of at least 1');
  });
});
