// The smallest single replacement that turns one text into another (common prefix and
// suffix kept), so that accepting a proposal edits only the lines it changes: the cursor,
// folds and other marks elsewhere in the file stay where they are. Pure.

export interface Replacement {
  /** Offset of the first replaced character (UTF-16 code units, as the editor counts). */
  start: number;
  /** Offset just past the last replaced character of the original text. */
  end: number;
  text: string;
}

export function minimalReplacement(original: string, proposed: string): Replacement | undefined {
  if (original === proposed) {
    return undefined;
  }
  let start = 0;
  const shorter = Math.min(original.length, proposed.length);
  while (start < shorter && original.charCodeAt(start) === proposed.charCodeAt(start)) {
    start++;
  }
  let tail = 0;
  while (
    tail < shorter - start &&
    original.charCodeAt(original.length - 1 - tail) === proposed.charCodeAt(proposed.length - 1 - tail)
  ) {
    tail++;
  }
  // Never split a surrogate pair.
  if (start > 0 && isHighSurrogate(original.charCodeAt(start - 1))) {
    start--;
  }
  if (tail > 0 && isLowSurrogate(original.charCodeAt(original.length - tail))) {
    tail--;
  }
  return { start, end: original.length - tail, text: proposed.slice(start, proposed.length - tail) };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
