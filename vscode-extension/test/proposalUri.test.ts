import { describe, expect, it } from 'vitest';

import { diffTitle, proposalIdOf, proposalUri, PROPOSAL_SCHEME } from '../src/proposalUri';

describe('proposal URIs', () => {
  it('name the file (for its language) and carry the proposal id, round trip', () => {
    const uri = proposalUri('interactive-program-1', '/repo/harness/system.md');
    expect(uri).toEqual({ scheme: PROPOSAL_SCHEME, path: '/system.md', query: 'proposal=interactive-program-1' });
    expect(proposalIdOf(uri)).toBe('interactive-program-1');
  });

  it('escape ids with odd characters', () => {
    const uri = proposalUri('p 1&x=2', 'C:\\h\\notes.md');
    expect(uri.path).toBe('/notes.md');
    expect(proposalIdOf(uri)).toBe('p 1&x=2');
  });

  it('are told apart from other documents', () => {
    expect(proposalIdOf({ scheme: 'file', query: 'proposal=x' })).toBeUndefined();
    expect(proposalIdOf({ scheme: PROPOSAL_SCHEME, query: '' })).toBeUndefined();
  });

  it('titles the diff with the file, the id and a short rationale', () => {
    expect(diffTitle('p-1', '/h/system.md', 'vim needs a terminal')).toBe('system.md ↔ proposal p-1 — vim needs a terminal');
    const long = diffTitle('p-1', '/h/system.md', 'x'.repeat(100));
    expect(long.endsWith('…')).toBe(true);
    expect(long.length).toBeLessThan(100);
  });

  it('names the other files a proposal changes, which Accept writes too', () => {
    expect(diffTitle('p-2', '/h/harness.toml', 'check before done', ['hooks/show-changes.sh'])).toBe(
      'harness.toml (and hooks/show-changes.sh) ↔ proposal p-2 — check before done',
    );
  });
});
