import { describe, expect, it } from 'vitest';

import { targetId } from '../src/commandArgs';

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
