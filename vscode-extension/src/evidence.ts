// "Jump to evidence": the line of a trace file (JSON Lines, docs/trace-format.md) that holds
// a given turn, so that the side bar opens the trace where the weakness shows. Pure.

/** The 0-based line of turn `turn` in the trace text, else 0 (the header). */
export function turnLine(traceText: string, turn: number | null | undefined): number {
  if (turn === null || turn === undefined) {
    return 0;
  }
  const lines = traceText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line.startsWith('{')) {
      continue;
    }
    try {
      const value = JSON.parse(line) as { type?: unknown; index?: unknown };
      if (value.type === 'turn' && value.index === turn) {
        return i;
      }
    } catch {
      // A torn last line: not a turn.
    }
  }
  return 0;
}
