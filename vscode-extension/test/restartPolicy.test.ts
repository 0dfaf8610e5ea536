import { describe, expect, it } from 'vitest';

import { RestartPolicy } from '../src/restartPolicy';

describe('RestartPolicy', () => {
  it('restarts a crashed server and says so, counting the crashes', () => {
    const policy = new RestartPolicy(2, 60_000);
    const first = policy.crashed(0);
    expect(first.restart).toBe(true);
    expect(first.message).toMatch(/stopped unexpectedly; restarting it \(1 of 2\)/);
    expect(policy.crashed(1000).restart).toBe(true);
  });

  it('gives up when it keeps crashing within the window, and says what to do', () => {
    const policy = new RestartPolicy(2, 60_000);
    policy.crashed(0);
    policy.crashed(1000);
    const third = policy.crashed(2000);
    expect(third.restart).toBe(false);
    expect(third.message).toContain('Restart the language server');
  });

  it('forgets crashes older than the window, and all of them on a deliberate restart', () => {
    const policy = new RestartPolicy(2, 60_000);
    policy.crashed(0);
    policy.crashed(1000);
    expect(policy.crashed(70_000).restart).toBe(true);
    policy.crashed(70_001);
    policy.reset();
    expect(policy.crashed(70_002).message).toContain('(1 of 2)');
  });
});
