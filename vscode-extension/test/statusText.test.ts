import { describe, expect, it } from 'vitest';

import type { Job } from '../src/protocol';
import { statusText } from '../src/statusText';

const job = (over: Partial<Job>): Job => ({
  id: '1',
  kind: 'validate',
  title: 'Validate p-1',
  state: 'running',
  message: '',
  done: 0,
  total: 0,
  ...over,
});

describe('statusText', () => {
  it('shows the running job with its progress message and the pass rate', () => {
    const status = statusText(
      [job({ message: 'validate 6/16 · parent 3/8 · candidate 4/8', passRate: { parent: 0.375, candidate: 0.5 } })],
      0.42,
    );
    expect(status.text).toBe('$(sync~spin) validate: validate 6/16 · parent 3/8 · candidate 4/8  $(beaker) 42%');
    expect(status.tooltip).toContain('parent 38%, candidate 50%');
  });

  it('prefers a running job to one that ended, and counts the others', () => {
    const status = statusText(
      [job({ id: '1', kind: 'mine', state: 'done', message: '3 weaknesses' }), job({ id: '2', done: 2, total: 8 }), job({ id: '3', kind: 'eval', done: 1, total: 4 })],
      null,
    );
    expect(status.text).toBe('$(sync~spin) eval: 1/4 (+1)');
  });

  it('says how the last job ended when none runs', () => {
    const status = statusText([job({ state: 'done', message: 'accepted · +4/4 · p=0.062' })], undefined);
    expect(status.text).toBe('$(check) validate done: accepted · +4/4 · p=0.062');
    expect(statusText([job({ state: 'failed', message: 'no model' })], undefined).text).toBe('$(error) validate failed: no model');
  });

  it('keeps a long message short, and whole in the tooltip', () => {
    const message = '✓ accepted · +4/4 · p=0.062: 4 pairs better, 0 worse: p = 0.0625 ≤ 0.1';
    const status = statusText([job({ state: 'done', message })], 1);
    expect(status.text).toBe('$(check) validate done: ✓ accepted · +4/4 · p=0.062: 4 pairs better, 0…  $(beaker) 100%');
    expect(status.tooltip).toContain(message);
  });

  it('has a resting text', () => {
    expect(statusText([], null).text).toBe('$(beaker) Self-Harness');
    expect(statusText([], 1).text).toBe('$(beaker) 100%');
  });
});
