import { describe, expect, it } from 'vitest';

import { turnLine } from '../src/evidence';

const trace = [
  '{"type":"header","task":"greet"}',
  '{"type":"turn","index":0,"command":"ls"}',
  '',
  '{"type":"turn","index":1,"command":"vim /app/x"}',
  '{"type":"outcome","reward":0}',
  '{"type":"turn","ind',
].join('\n');

describe('turnLine', () => {
  it('finds the line of a turn, past blank lines', () => {
    expect(turnLine(trace, 0)).toBe(1);
    expect(turnLine(trace, 1)).toBe(3);
  });

  it('falls back to the header for a missing turn, no turn, or a torn file', () => {
    expect(turnLine(trace, 7)).toBe(0);
    expect(turnLine(trace, null)).toBe(0);
    expect(turnLine('', 1)).toBe(0);
  });
});
