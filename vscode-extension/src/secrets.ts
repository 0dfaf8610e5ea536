// The model's API key, kept in VS Code's SecretStorage — never in settings. The server gets
// it as OPENAI_API_KEY in its environment when it starts (client.ts); setting or clearing
// it restarts the server.

import * as vscode from 'vscode';

const KEY = 'selfHarness.apiKey';

export class ApiKey implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly secrets: vscode.SecretStorage) {
    this.subscription = secrets.onDidChange((event) => {
      if (event.key === KEY) {
        this.changed.fire();
      }
    });
  }

  get(): Thenable<string | undefined> {
    return this.secrets.get(KEY);
  }

  async prompt(): Promise<void> {
    const value = await vscode.window.showInputBox({
      title: 'Self-Harness: API key',
      prompt: 'The key of the model endpoint. Kept in the editor\'s secret storage and passed to the server as OPENAI_API_KEY.',
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) {
      return;
    }
    if (value.trim() === '') {
      await this.clear();
      return;
    }
    await this.secrets.store(KEY, value.trim());
    void vscode.window.showInformationMessage('Self-Harness: API key stored; the language server restarts with it.');
  }

  async clear(): Promise<void> {
    await this.secrets.delete(KEY);
    void vscode.window.showInformationMessage('Self-Harness: API key removed.');
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
