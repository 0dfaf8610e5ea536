// Which self-harness binary to start: the `selfHarness.serverPath` setting, else the one
// bundled in the extension's `bin/`, else `self-harness` on PATH. Pure: the file system is
// passed in, so the order is unit-tested.

import * as path from 'node:path';

export const BINARY_NAME = process.platform === 'win32' ? 'self-harness.exe' : 'self-harness';

export interface BinaryLookup {
  /** The `selfHarness.serverPath` setting (may be empty). */
  setting: string | undefined;
  /** The extension's install folder. */
  extensionPath: string;
  /** The PATH variable. */
  pathEnv: string | undefined;
  /** The first workspace folder, against which a relative setting is read. */
  workspaceFolder?: string;
  /** Whether `file` is an executable file. */
  isExecutable: (file: string) => boolean;
}

export type Resolved =
  | { ok: true; command: string; source: 'setting' | 'bundled' | 'path' }
  | { ok: false; message: string };

export function resolveServerBinary(lookup: BinaryLookup): Resolved {
  const setting = lookup.setting?.trim();
  if (setting) {
    const file = path.isAbsolute(setting) || !lookup.workspaceFolder ? setting : path.join(lookup.workspaceFolder, setting);
    if (lookup.isExecutable(file)) {
      return { ok: true, command: file, source: 'setting' };
    }
    return {
      ok: false,
      message: `selfHarness.serverPath is "${setting}", which is not an executable file.`,
    };
  }
  const bundled = path.join(lookup.extensionPath, 'bin', BINARY_NAME);
  if (lookup.isExecutable(bundled)) {
    return { ok: true, command: bundled, source: 'bundled' };
  }
  for (const dir of (lookup.pathEnv ?? '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const candidate = path.join(dir, BINARY_NAME);
    if (lookup.isExecutable(candidate)) {
      return { ok: true, command: candidate, source: 'path' };
    }
  }
  return {
    ok: false,
    message:
      'The self-harness binary was not found: set selfHarness.serverPath, install an extension build that bundles it, or put self-harness on PATH (cargo install --path server).',
  };
}
