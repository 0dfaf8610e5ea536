// package.json and the code agree: every contributed command is registered, every menu
// names a contributed command, the views are the side bar's sections.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { PREVIEW_COMMAND, ServerCommand, VALIDATE_APPLIED } from '../src/protocol';
import { SECTIONS } from '../src/stateTree';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
const source = readFileSync(new URL('../src/commands.ts', import.meta.url), 'utf8');
const constants: Record<string, string> = { PREVIEW_COMMAND, VALIDATE_APPLIED };
const registered = [...source.matchAll(/run\((?:'([^']+)'|([A-Z_]+)),/g)].map((m) => m[1] ?? constants[m[2]]);

describe('package.json', () => {
  it('contributes exactly the commands the extension registers', () => {
    expect([...contributed].sort()).toEqual([...new Set(registered)].sort());
  });

  it('never contributes a server command id, which the language client registers itself', () => {
    for (const id of Object.values(ServerCommand)) {
      expect(contributed).not.toContain(id);
    }
  });

  it('lets no workspace choose the program the editor starts', () => {
    expect(manifest.contributes.configuration.properties['selfHarness.serverPath'].scope).toBe('machine');
  });

  it('runs limited in a restricted workspace, where the workspace chooses no model endpoint', () => {
    const untrusted = manifest.capabilities.untrustedWorkspaces;
    expect(untrusted.supported).toBe('limited');
    expect(untrusted.description).toContain('no job runs');
    expect(untrusted.restrictedConfigurations).toContain('selfHarness.model.baseUrl');
  });

  it('has menus that name contributed commands only', () => {
    for (const [menu, entries] of Object.entries(manifest.contributes.menus as Record<string, { command: string }[]>)) {
      for (const entry of entries) {
        expect(contributed, `${menu}: ${entry.command}`).toContain(entry.command);
      }
    }
  });

  it('puts Accept and Reject in the title of the proposal diff', () => {
    const title = manifest.contributes.menus['editor/title'];
    expect(title.map((e: { command: string }) => e.command)).toEqual(['selfHarness.acceptProposal', 'selfHarness.rejectProposal']);
    for (const entry of title) {
      expect(entry.when).toBe('resourceScheme == self-harness-proposal');
    }
  });

  it('has one view per side bar section', () => {
    expect(manifest.contributes.views.selfHarness.map((v: { id: string }) => v.id)).toEqual(SECTIONS.map((s) => `selfHarness.${s}`));
  });
});
