// The side bar: the `selfHarness/state` result (fetched on start and whenever the server
// says `selfHarness/stateChanged`) shown as four trees — runs, weaknesses, proposals,
// ledger — whose nodes stateTree.ts builds.

import * as vscode from 'vscode';

import type { ServerConnection } from './client';
import { STATE_REQUEST, type Job, type SideBarState } from './protocol';
import { sectionNodes, SECTIONS, type Section, type TreeNode } from './stateTree';

class SectionTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    readonly section: Section,
    private readonly state: () => SideBarState | undefined,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? node.children ?? [] : sectionNodes(this.state(), this.section);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const collapsible = node.children && node.children.length > 0;
    const item = new vscode.TreeItem(
      node.label,
      collapsible ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `${this.section}/${node.id}`;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.icon) {
      item.iconPath = new vscode.ThemeIcon(node.icon);
    }
    item.command = node.command;
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The last state the server gave, with the jobs kept current by `selfHarness/jobs`. */
export class SideBarModel implements vscode.Disposable {
  state: SideBarState | undefined;
  jobs: Job[] = [];
  private readonly trees: SectionTree[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fired after the state or the jobs changed. */
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly server: ServerConnection) {
    for (const section of SECTIONS) {
      const tree = new SectionTree(section, () => this.state);
      this.trees.push(tree);
      this.disposables.push(vscode.window.createTreeView(`selfHarness.${section}`, { treeDataProvider: tree }), tree);
    }
  }

  /** Asks the server for the state again, soon (several changes in a row ask once). */
  refreshSoon(delayMs = 150): void {
    if (this.pending) {
      clearTimeout(this.pending);
    }
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.refresh();
    }, delayMs);
  }

  async refresh(): Promise<void> {
    try {
      this.state = await this.server.request<SideBarState>(STATE_REQUEST);
    } catch (error) {
      this.server.output.appendLine(`${STATE_REQUEST}: ${String(error)}`);
      return;
    }
    this.jobs = this.state.jobs;
    this.fire();
  }

  /** `selfHarness/jobs`: the job list changed. */
  setJobs(jobs: Job[]): void {
    this.jobs = jobs;
    if (this.state) {
      this.state = { ...this.state, jobs };
    }
    this.fire();
  }

  private fire(): void {
    for (const tree of this.trees) {
      tree.refresh();
    }
    this.changed.fire();
  }

  dispose(): void {
    if (this.pending) {
      clearTimeout(this.pending);
    }
    for (const d of this.disposables) {
      d.dispose();
    }
    this.changed.dispose();
  }
}
