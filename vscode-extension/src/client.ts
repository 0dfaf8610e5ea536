// The language server process: finds the binary (serverBinary.ts), starts
// `self-harness lsp` with the API key from SecretStorage in its environment, sends the
// settings (settings.ts), restarts it when it crashes — saying so — and keeps its log in the
// "Self-Harness" output channel.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

import { ApiKey } from './secrets';
import { resolveServerBinary } from './serverBinary';
import { RESTART_SETTINGS, serverSettings } from './settings';
import { RestartPolicy } from './restartPolicy';
import { serverEnv } from './serverEnv';

export const CLIENT_ID = 'selfHarness';

/** Files the server may care about; it decides itself which are harness documents. */
const DOCUMENTS = ['toml', 'markdown', 'shellscript', 'plaintext'].map((language) => ({ scheme: 'file', language }));

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function readSettings() {
  const config = vscode.workspace.getConfiguration('selfHarness');
  return serverSettings((key) => config.get(key), vscode.workspace.isTrusted);
}

export interface ClientHooks {
  /** Wires the extension's handlers (notifications, middleware) onto a new client. */
  prepare(client: LanguageClient): void;
  /** Called each time the server is running (first start and every restart). */
  running(): void;
  /** The client's middleware (e.g. where `window/showDocument` goes). */
  middleware?: LanguageClientOptions['middleware'];
}

export class ServerConnection implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly policy = new RestartPolicy();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly output: vscode.OutputChannel,
    private readonly apiKey: ApiKey,
    private readonly hooks: ClientHooks,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (RESTART_SETTINGS.some((s) => event.affectsConfiguration(s))) {
          void this.restart();
        } else if (event.affectsConfiguration('selfHarness')) {
          void this.client?.sendNotification(DidChangeConfigurationNotification.type, {
            settings: { selfHarness: readSettings() },
          });
        }
      }),
      apiKey.onDidChange(() => void this.restart()),
      // Trust granted: a server that now gets the stored key and may start jobs.
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.restart()),
    );
  }

  /** The client of the running server; an error when none runs. */
  private running(): LanguageClient {
    if (this.client?.state !== State.Running) {
      throw new Error('the Self-Harness language server is not running');
    }
    return this.client;
  }

  /** A request to the running server. */
  async request<R>(method: string, params?: unknown): Promise<R> {
    const client = this.running();
    // No params at all (not `[null]`) for requests that take none, such as selfHarness/state.
    return params === undefined ? client.sendRequest<R>(method) : client.sendRequest<R>(method, params);
  }

  /** An LSP workspace edit from the server as VS Code's own. */
  async asWorkspaceEdit(edit: unknown): Promise<vscode.WorkspaceEdit> {
    // The converter takes the protocol's type; the server's JSON is that type.
    const converted = await this.running().protocol2CodeConverter.asWorkspaceEdit(edit as never);
    if (!converted) {
      throw new Error('the server sent no edit');
    }
    return converted;
  }

  /** Runs a server command (`workspace/executeCommand`) with one argument object. */
  async execute<R>(command: string, argument: object = {}): Promise<R> {
    return this.running().sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] }) as Promise<R>;
  }

  async start(): Promise<void> {
    const resolved = resolveServerBinary({
      setting: vscode.workspace.getConfiguration('selfHarness').get<string>('serverPath'),
      extensionPath: this.context.extensionPath,
      pathEnv: process.env.PATH,
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      isExecutable,
    });
    if (!resolved.ok) {
      this.output.appendLine(resolved.message);
      void vscode.window.showErrorMessage(resolved.message, 'Open Settings').then((choice) => {
        if (choice) {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'selfHarness.serverPath');
        }
      });
      return;
    }
    this.output.appendLine(`Starting ${resolved.command} lsp (${resolved.source})`);
    // A restricted workspace starts no job, so its server is not handed the stored key.
    const env = serverEnv(process.env, vscode.workspace.isTrusted ? await this.apiKey.get() : undefined);
    const serverOptions: ServerOptions = {
      command: resolved.command,
      args: ['lsp'],
      options: { env, cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENTS,
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: readSettings(),
      middleware: this.hooks.middleware,
      errorHandler: {
        error: (_error, _message, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        }),
        closed: () => {
          const decision = this.policy.crashed(Date.now());
          this.output.appendLine(decision.message);
          void vscode.window.showWarningMessage(decision.message, 'Show Log').then((choice) => {
            if (choice) {
              this.output.show(true);
            }
          });
          return { action: decision.restart ? CloseAction.Restart : CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new LanguageClient(CLIENT_ID, 'Self-Harness', serverOptions, clientOptions);
    this.client = client;
    this.hooks.prepare(client);
    client.onDidChangeState((event) => {
      if (event.newState === State.Running) {
        this.hooks.running();
      }
    });
    try {
      await client.start();
    } catch (error) {
      const message = `The Self-Harness language server did not start: ${String(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => choice && this.output.show(true));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) {
      await client.stop().catch((error) => this.output.appendLine(`stopping the server: ${String(error)}`));
    }
    await client?.dispose().catch(() => undefined);
  }

  /** A deliberate restart: new settings, a new key, or the user asked. Forgets crashes. */
  async restart(): Promise<void> {
    this.policy.reset();
    await this.stop();
    await this.start();
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
    void this.stop();
  }
}
