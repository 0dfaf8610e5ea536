// The status bar item: the job in progress (or how the last one ended) and the current
// harness version's pass rate, as statusText.ts words it. A click opens the side bar.

import * as vscode from 'vscode';

import type { SideBarModel } from './sideBar';
import { statusText } from './statusText';

export class JobStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('selfHarness.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: SideBarModel) {
    this.item.name = 'Self-Harness';
    this.item.command = 'workbench.view.extension.selfHarness';
    this.subscription = model.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  private update(): void {
    const { text, tooltip } = statusText(this.model.jobs, this.model.state?.harness.passRate);
    this.item.text = text;
    this.item.tooltip = tooltip;
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
