// The palette's commands. Those that start work on the server (eval, mine, propose,
// validate, auto-apply, report, cancel) run its `selfHarness.*` commands; their own ids
// differ because the language client registers the server's ids itself. A command that
// needs a weakness, proposal or job takes it from its argument (code action, side bar)
// or lets the user pick.

import * as fs from 'node:fs/promises';
import * as vscode from 'vscode';

import type { ServerConnection } from './client';
import type { CodeActionGuard } from './codeActions';
import { targetId, wholeNumberProblem } from './commandArgs';
import { turnLine } from './evidence';
import type { ProposalPreview } from './preview';
import { PREVIEW_COMMAND, ServerCommand, VALIDATE_APPLIED, type ReportResult } from './protocol';
import type { ReportView } from './report';
import type { ApiKey } from './secrets';
import type { SideBarModel } from './sideBar';
import { PROPOSAL_MARK } from './stateTree';

export interface Parts {
  server: ServerConnection;
  model: SideBarModel;
  preview: ProposalPreview;
  report: ReportView;
  apiKey: ApiKey;
  guard: CodeActionGuard;
}

async function started(what: string, result: Promise<unknown>): Promise<void> {
  const value = (await result) as { job?: string } | undefined;
  vscode.window.setStatusBarMessage(`Self-Harness: ${what} started${value?.job ? ` (job ${value.job})` : ''}`, 4000);
}

async function pickWeakness(parts: Parts, argument: unknown): Promise<string | undefined> {
  const id = targetId(argument, 'weakness');
  if (id) {
    return id;
  }
  await parts.model.refresh();
  const picked = await vscode.window.showQuickPick(
    (parts.model.state?.weaknesses ?? []).map((w) => ({ label: w.title, description: w.support, detail: w.id, id: w.id })),
    { title: 'Propose fixes for which weakness?' },
  );
  return picked?.id;
}

async function pickProposal(parts: Parts, argument: unknown, title: string, working: boolean) {
  const id = targetId(argument, 'proposal');
  if (id) {
    return { id };
  }
  await parts.model.refresh();
  const items: (vscode.QuickPickItem & { id?: string })[] = (parts.model.state?.proposals ?? []).map((p) => ({
    label: p.id,
    description: `${PROPOSAL_MARK[p.state]?.text ?? p.state} · for ${p.weakness}`,
    detail: p.rationale,
    id: p.id,
  }));
  if (working) {
    items.unshift({ label: 'The working edit', description: 'the harness folder as it is, against its last commit' });
  }
  const picked = await vscode.window.showQuickPick(items, { title });
  return picked ? { id: picked.id } : undefined;
}

export function registerCommands(parts: Parts): vscode.Disposable[] {
  const { server, model, preview, report, apiKey, guard } = parts;
  const run = (command: string, handler: (...args: unknown[]) => Promise<unknown>) =>
    vscode.commands.registerCommand(command, async (...args: unknown[]) => {
      try {
        await handler(...args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        server.output.appendLine(`${command}: ${message}`);
        void vscode.window.showErrorMessage(`Self-Harness: ${message}`);
      }
    });
  return [
    run('selfHarness.evaluate', async () => {
      const repeats = await vscode.window.showInputBox({
        title: 'Self-Harness: evaluate the harness',
        prompt: 'Episodes per task (empty: the repeats setting)',
        validateInput: (v) => wholeNumberProblem(v, 1),
      });
      if (repeats === undefined) {
        return;
      }
      await started('evaluation', server.execute(ServerCommand.eval, repeats.trim() ? { repeats: Number(repeats) } : {}));
    }),
    run('selfHarness.mineWeaknesses', () => started('mining', server.execute(ServerCommand.mine))),
    run('selfHarness.proposeFixes', async (argument) => {
      const weakness = await pickWeakness(parts, argument);
      if (weakness) {
        await started(`proposing for ${weakness}`, server.execute(ServerCommand.propose, { weakness }));
      }
    }),
    run('selfHarness.validateProposal', async (argument) => {
      const picked = await pickProposal(parts, argument, 'Validate what?', true);
      if (picked) {
        const what = picked.id ? { proposal: picked.id } : {};
        await started(`validating ${picked.id ?? 'the working edit'}`, server.execute(ServerCommand.validate, what));
      }
    }),
    run('selfHarness.startAutoApply', async () => {
      const iterations = await vscode.window.showInputBox({
        title: 'Self-Harness: auto-apply',
        prompt: 'Iterations of mine → propose → validate → apply',
        value: '2',
        validateInput: (v) => wholeNumberProblem(v, 1),
      });
      if (iterations !== undefined) {
        const argument = iterations.trim() ? { iterations: Number(iterations) } : {};
        await started('the loop', server.execute(ServerCommand.autoApplyStart, argument));
      }
    }),
    run('selfHarness.stopAutoApply', async () => {
      const result = await server.execute<{ stopped?: boolean }>(ServerCommand.autoApplyStop);
      void vscode.window.showInformationMessage(
        result?.stopped ? 'Self-Harness: the loop is stopping.' : 'Self-Harness: no loop is running.',
      );
    }),
    run('selfHarness.showReport', async () => {
      const result = await server.execute<ReportResult>(ServerCommand.report);
      await report.show(result.path);
    }),
    run('selfHarness.cancelJob', async (argument) => {
      let job = targetId(argument, 'job');
      if (!job) {
        const running = model.jobs.filter((j) => j.state === 'running');
        const picked = await vscode.window.showQuickPick(
          running.map((j) => ({ label: j.title, description: j.message, id: j.id })),
          { title: running.length ? 'Cancel which job?' : 'No job is running' },
        );
        job = picked?.id;
      }
      if (job) {
        await server.execute(ServerCommand.cancel, { job });
      }
    }),
    run(PREVIEW_COMMAND, async (argument) => {
      const picked = await pickProposal(parts, argument, 'Preview which proposal?', false);
      if (picked?.id) {
        await preview.show(picked.id);
      }
    }),
    run(VALIDATE_APPLIED, async () => {
      const [argument] = guard.take() ?? [];
      if (argument && typeof argument === 'object') {
        await started('validation', server.execute(ServerCommand.validate, argument));
      }
    }),
    run('selfHarness.acceptProposal', (uri) => preview.accept(uri instanceof vscode.Uri ? uri : undefined)),
    run('selfHarness.rejectProposal', (uri) => preview.reject(uri instanceof vscode.Uri ? uri : undefined)),
    run('selfHarness.openEvidence', async (trace, turn) => {
      if (typeof trace !== 'string') {
        return;
      }
      const line = turnLine(await fs.readFile(trace, 'utf8').catch(() => ''), typeof turn === 'number' ? turn : null);
      const position = new vscode.Position(line, 0);
      await vscode.window.showTextDocument(vscode.Uri.file(trace), { selection: new vscode.Range(position, position) });
    }),
    run('selfHarness.refresh', () => model.refresh()),
    run('selfHarness.setApiKey', () => apiKey.prompt()),
    run('selfHarness.clearApiKey', () => apiKey.clear()),
    run('selfHarness.restartServer', () => server.restart()),
    run('selfHarness.showOutput', async () => server.output.show(true)),
  ];
}
