// The inline diff of a proposal: `selfHarness.previewProposal` (the client command the
// server's "Preview proposal" code action runs) asks `selfHarness/proposedText` and opens
// `vscode.diff` between the harness file and a virtual document with the proposed text.
// Accept (editor title) applies the whole proposal (the shown file and any other it
// changes or creates, such as a hook script), saves what it touched and starts its
// validation on the server; Reject closes the diff.

import * as vscode from 'vscode';

import type { ServerConnection } from './client';
import { PROPOSED_TEXT_REQUEST, ServerCommand, type ProposedText } from './protocol';
import { diffTitle, proposalIdOf, proposalUri } from './proposalUri';

export class ProposalPreview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, ProposedText>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly server: ServerConnection) {}

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = proposalIdOf(uri);
    return (id && this.texts.get(id)?.proposed) ?? '';
  }

  private async fetch(id: string): Promise<ProposedText> {
    const text = await this.server.request<ProposedText>(PROPOSED_TEXT_REQUEST, { proposal: id });
    this.texts.set(id, text);
    return text;
  }

  private virtualUri(id: string, text: ProposedText): vscode.Uri {
    return vscode.Uri.from(proposalUri(id, vscode.Uri.parse(text.uri).path));
  }

  /** Opens the diff of proposal `id`. */
  async show(id: string): Promise<void> {
    const text = await this.fetch(id);
    const file = vscode.Uri.parse(text.uri);
    const right = this.virtualUri(id, text);
    this.changed.fire(right);
    const others = text.files.slice(1);
    await vscode.commands.executeCommand('vscode.diff', file, right, diffTitle(id, file.path, text.title, others), {
      preview: false,
    });
  }

  /** The proposal of the diff in front, or of `uri`. */
  private idOf(uri: vscode.Uri | undefined): string | undefined {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    return target ? proposalIdOf(target) : undefined;
  }

  /** Applies the proposal to its file, saves it, closes the diff and validates it. */
  async accept(uri?: vscode.Uri): Promise<void> {
    const id = this.idOf(uri);
    if (!id) {
      void vscode.window.showWarningMessage('Self-Harness: no proposal diff is open.');
      return;
    }
    // Ask again: the server computes the proposed text from the file as it is now.
    const text = await this.fetch(id);
    const file = vscode.Uri.parse(text.uri);
    const document = await vscode.workspace.openTextDocument(file);
    if (document.getText() !== text.original) {
      void vscode.window.showWarningMessage(
        `Self-Harness: ${vscode.workspace.asRelativePath(file)} changed while the diff was open; preview proposal ${id} again.`,
      );
      return;
    }
    // The whole proposal, as the server's "Apply proposal" action would apply it.
    const edit = await this.server.asWorkspaceEdit(text.edit);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage(`Self-Harness: could not apply proposal ${id}.`);
      return;
    }
    for (const [uri] of edit.entries()) {
      const touched = await vscode.workspace.openTextDocument(uri);
      await touched.save();
    }
    await this.close(this.virtualUri(id, text));
    await vscode.window.showTextDocument(document, { preview: false });
    await this.server.execute(ServerCommand.validate, { proposal: id });
    vscode.window.setStatusBarMessage(`Self-Harness: validating proposal ${id}`, 5000);
  }

  /** Closes the diff without changing anything. */
  async reject(uri?: vscode.Uri): Promise<void> {
    const id = this.idOf(uri);
    const text = id ? this.texts.get(id) : undefined;
    if (!id || !text) {
      return;
    }
    await this.close(this.virtualUri(id, text));
    this.texts.delete(id);
  }

  private async close(right: vscode.Uri): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.toString() === right.toString());
    if (tabs.length > 0) {
      await vscode.window.tabGroups.close(tabs);
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}
