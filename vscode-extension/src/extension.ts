// Self-Harness in VS Code: the language server (client.ts) plus what plain LSP lacks — the
// proposal diff with Accept / Reject (preview.ts), the side bar (sideBar.ts), the job and
// pass-rate status (statusBar.ts), the report webview (report.ts), the palette commands
// (commands.ts) and the API key in SecretStorage (secrets.ts).

import * as vscode from 'vscode';

import { ServerConnection } from './client';
import { CodeActionGuard } from './codeActions';
import { registerCommands } from './commands';
import { ProposalPreview } from './preview';
import { JOBS_NOTIFICATION, STATE_CHANGED, type JobsParams } from './protocol';
import { PROPOSAL_SCHEME } from './proposalUri';
import { ReportView } from './report';
import { ApiKey } from './secrets';
import { SideBarModel } from './sideBar';
import { JobStatusBar } from './statusBar';

let connection: ServerConnection | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Self-Harness');
  const apiKey = new ApiKey(context.secrets);
  let model: SideBarModel | undefined;
  const guard = new CodeActionGuard();
  const server = new ServerConnection(context, output, apiKey, {
    prepare(client) {
      client.onNotification(JOBS_NOTIFICATION, (params: JobsParams) => model?.setJobs(params?.jobs ?? []));
      client.onNotification(STATE_CHANGED, () => model?.refreshSoon());
    },
    running() {
      model?.refreshSoon(0);
    },
    middleware: {
      ...guard.middleware,
      window: {
        // The server asks to open the report it wrote; the report command shows it in a
        // webview instead of leaving the editor.
        showDocument: async (params, next) => {
          if (params.uri.endsWith('/report.html')) {
            return { success: true };
          }
          const result = await next(params, new vscode.CancellationTokenSource().token);
          return 'success' in result ? result : { success: false };
        },
      },
    },
  });
  connection = server;
  model = new SideBarModel(server);
  const preview = new ProposalPreview(server);
  const report = new ReportView();
  context.subscriptions.push(
    output,
    apiKey,
    server,
    model,
    preview,
    report,
    new JobStatusBar(model),
    vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, preview),
    ...registerCommands({ server, model, preview, report, apiKey, guard }),
  );
  await server.start();
}

export async function deactivate(): Promise<void> {
  await connection?.stop();
  connection = undefined;
}
