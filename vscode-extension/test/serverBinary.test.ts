import { describe, expect, it } from 'vitest';

import { resolveServerBinary } from '../src/serverBinary';

const executables = (...files: string[]) => (file: string) => files.includes(file);

describe('resolveServerBinary', () => {
  const base = { extensionPath: '/ext', pathEnv: '/usr/local/bin:/usr/bin', workspaceFolder: '/project' };

  it('prefers the setting, then the bundled binary, then PATH', () => {
    const all = executables('/opt/sh', '/ext/bin/self-harness', '/usr/bin/self-harness');
    expect(resolveServerBinary({ ...base, setting: '/opt/sh', isExecutable: all })).toEqual({
      ok: true,
      command: '/opt/sh',
      source: 'setting',
    });
    expect(resolveServerBinary({ ...base, setting: '', isExecutable: all })).toMatchObject({
      command: '/ext/bin/self-harness',
      source: 'bundled',
    });
    expect(resolveServerBinary({ ...base, setting: '  ', isExecutable: executables('/usr/bin/self-harness') })).toMatchObject({
      command: '/usr/bin/self-harness',
      source: 'path',
    });
  });

  it('takes the first PATH entry that has it, skipping empty entries', () => {
    const found = resolveServerBinary({
      ...base,
      setting: undefined,
      pathEnv: ':/a:/b:/c',
      isExecutable: executables('/b/self-harness', '/c/self-harness'),
    });
    expect(found).toMatchObject({ command: '/b/self-harness' });
  });

  it('reads a relative setting against the workspace folder', () => {
    const found = resolveServerBinary({
      ...base,
      setting: 'target/debug/self-harness',
      isExecutable: executables('/project/target/debug/self-harness'),
    });
    expect(found).toMatchObject({ ok: true, command: '/project/target/debug/self-harness' });
  });

  it('does not fall back when the setting names a missing file, and says why', () => {
    const found = resolveServerBinary({ ...base, setting: '/nope', isExecutable: executables('/usr/bin/self-harness') });
    expect(found.ok).toBe(false);
    expect(found.ok === false && found.message).toContain('"/nope"');
  });

  it('says how to get the binary when there is none', () => {
    const found = resolveServerBinary({ ...base, setting: undefined, pathEnv: undefined, isExecutable: () => false });
    expect(found.ok).toBe(false);
    expect(found.ok === false && found.message).toContain('selfHarness.serverPath');
  });
});
