// What a command was invoked on: the same command comes from a code action
// (`{"proposal": id}`), from a side bar item (a TreeNode with id `proposal:<id>`), from
// another command (a plain id) or from the palette (nothing, so the user picks); and what
// the user types when asked for a count. Pure.

export type Target = 'proposal' | 'weakness' | 'job';

export function targetId(argument: unknown, target: Target): string | undefined {
  if (typeof argument === 'string' && argument !== '') {
    return argument;
  }
  if (argument && typeof argument === 'object') {
    const record = argument as Record<string, unknown>;
    const direct = record[target];
    if (typeof direct === 'string' && direct !== '') {
      return direct;
    }
    const id = record.id;
    const prefix = `${target}:`;
    if (typeof id === 'string' && id.startsWith(prefix)) {
      // `weakness:<id>:evidence:<n>` names the weakness too.
      const rest = id.slice(prefix.length);
      return target === 'weakness' ? rest.split(':evidence:')[0] : rest;
    }
  }
  return undefined;
}

/** What is wrong with a typed count (undefined when it is fine; empty means "the default"). */
export function wholeNumberProblem(value: string, min: number): string | undefined {
  if (value.trim() === '') {
    return undefined;
  }
  const n = Number(value);
  return Number.isInteger(n) && n >= min ? undefined : `a whole number of at least ${min}`;
}
