// The report in a webview: the page the server writes for `selfHarness.report` (the
// pass-rate plot, the tables, weaknesses and validations), without scripts.

import * as fs from 'node:fs/promises';
import * as vscode from 'vscode';

import { reportWebviewHtml } from './reportHtml';

export class ReportView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;

  async show(path: string): Promise<void> {
    const page = await fs.readFile(path, 'utf8');
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel('selfHarness.report', 'Self-Harness report', vscode.ViewColumn.Active, {
        enableScripts: false,
        localResourceRoots: [],
      });
      this.panel.onDidDispose(() => (this.panel = undefined));
    }
    this.panel.webview.html = reportWebviewHtml(page);
    this.panel.reveal();
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
