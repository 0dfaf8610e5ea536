import { describe, expect, it } from 'vitest';

import type { SideBarState } from '../src/protocol';
import { ledgerLine, sectionNodes } from '../src/stateTree';

const state: SideBarState = {
  harness: { dir: '/repo/harness', version: 'abcdef0123456789', passRate: 0.25 },
  weaknesses: [
    {
      id: 'interactive-program',
      title: 'Opens interactive programs',
      description: 'The agent opens vim.',
      criticality: 'high',
      support: '2 of 2 failed traces',
      counts: { failed_with: 2, failed_total: 2, passed_with: 0, passed_total: 1 },
      surface: 'prompts.system',
      evidence: [{ trace: '/p/.self-harness/runs/loop-x/greet/s0/trace.jsonl', turn: 1, detail: 'vim /app/x' }],
      tasks: ['greet'],
      keep_passing: ['count'],
      harness: '/repo/harness',
    },
  ],
  proposals: [
    { id: 'p-1', weakness: 'interactive-program', file: '/repo/harness/system.md', rationale: 'no vim', diff: '+x', state: 'accepted' },
    { id: 'p-2', weakness: 'interactive-program', file: '/repo/harness/system.md', rationale: 'r', diff: '', state: 'validating' },
    { id: 'p-3', weakness: 'interactive-program', file: '/repo/harness/system.md', rationale: 'r', diff: '', state: 'proposed' },
  ],
  jobs: [{ id: '4', kind: 'validate', title: 'Validate p-2', state: 'running', message: 'validate 2/8', done: 2, total: 8 }],
  ledger: [
    { type: 'start', at: 't0', model: 'local', harness_version: 'abcdef0123456789', policy: 'paired' },
    { type: 'evaluation', iteration: 0, harness_version: 'abcdef0123456789', split: 'test', score: { passed: 3, counted: 12 } },
    { type: 'weaknesses', iteration: 1, ids: ['a', 'b'], titles: ['A', 'B'] },
    {
      type: 'decision',
      iteration: 1,
      proposals: ['p-1'],
      accepted: true,
      reason: 'sign test',
      p_value: 0.0625,
      parent: { passed: 0, counted: 4 },
      candidate: { passed: 4, counted: 4 },
    },
    { type: 'applied', iteration: 1, proposals: ['p-1'], harness_version: '0123456789abcdef', commit: 'deadbeefcafe' },
    { type: 'finish', at: 't9', harness_version: '0123456789abcdef', reason: 'iterations done' },
  ],
  runs: [{ id: 'loop-abc', label: 'abc on Test', passed: 3, total: 12 }],
};

describe('sectionNodes', () => {
  it('runs: the harness with its pass rate, the jobs, then each run', () => {
    const nodes = sectionNodes(state, 'runs');
    expect(nodes.map((n) => n.label)).toEqual(['Harness abcdef012345', 'Jobs', 'abc on Test']);
    expect(nodes[0].description).toBe('passes 25%');
    expect(nodes[1].children?.[0]).toMatchObject({ label: 'Validate p-2', description: 'validate 2/8', icon: 'sync~spin' });
    expect(nodes[2].description).toBe('3/12 (25%)');
  });

  it('weaknesses: support, surface, and evidence that jumps to the trace turn', () => {
    const [w] = sectionNodes(state, 'weaknesses');
    expect(w).toMatchObject({ label: 'Opens interactive programs', description: '2/2 failed traces · prompts.system', icon: 'warning' });
    expect(w.tooltip).toContain('must keep passing: count');
    const [e] = w.children ?? [];
    expect(e).toMatchObject({ label: 'turn 1: vim /app/x', description: 'loop-x/greet/s0' });
    expect(e.command).toEqual({
      command: 'selfHarness.openEvidence',
      title: 'Open evidence',
      arguments: ['/p/.self-harness/runs/loop-x/greet/s0/trace.jsonl', 1],
    });
  });

  it('proposals: their state as mark, icon and menu context; a click previews', () => {
    const nodes = sectionNodes(state, 'proposals');
    expect(nodes.map((n) => [n.description, n.icon, n.contextValue])).toEqual([
      ['✓ accepted · system.md · for interactive-program', 'pass', 'proposal.accepted'],
      ['validating… · system.md · for interactive-program', 'sync~spin', 'proposal.validating'],
      ['proposed · system.md · for interactive-program', 'lightbulb', 'proposal.proposed'],
    ]);
    expect(nodes[0].command).toMatchObject({ command: 'selfHarness.previewProposal', arguments: [{ proposal: 'p-1' }] });
  });

  it('ledger: grouped by iteration, each line in words', () => {
    const nodes = sectionNodes(state, 'ledger');
    expect(nodes.map((n) => n.label)).toEqual(['Start: local', 'Iteration 0', 'Iteration 1', 'Finished']);
    expect(nodes[2].children?.map((n) => n.label)).toEqual(['Mined 2 weakness(es)', '✓ accepted p-1', 'Applied p-1']);
    expect(nodes[2].children?.[1].description).toBe('0/4 (0%) → 4/4 (100%) · p=0.063');
    expect(nodes[2].children?.[2].description).toBe('→ 0123456789ab (deadbeef)');
    const ids = [...nodes, ...nodes.flatMap((n) => n.children ?? [])].map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('what the model cost outside episodes', () => {
    const line = ledgerLine({ type: 'spent', iteration: 1, stage: 'propose', spend: { tokens: 1200, cost_usd: 0.034 } });
    expect(line).toMatchObject({ label: 'Model calls: propose', description: '1200 tokens · $0.03' });
  });

  it('an unknown ledger line still shows its type; no state shows nothing', () => {
    expect(ledgerLine({ type: 'something_new' }).label).toBe('something_new');
    expect(sectionNodes(undefined, 'weaknesses')).toEqual([]);
  });

  it('a harness that does not load and no episodes', () => {
    const [h] = sectionNodes({ ...state, harness: { dir: '/h', version: null, passRate: null }, jobs: [], runs: [] }, 'runs');
    expect(h).toMatchObject({ label: 'Harness (does not load)', description: 'no episodes yet' });
  });
});
