// The server's code actions, made safe from a race in the editor. VS Code keeps the
// arguments of a code action's command only as long as the list the action came from; when
// the editor asks for the line's actions again while the chosen one is still being resolved
// (the menu has just closed), that list is released and running the command fails with
// "Actual command not found". So:
//  * actions without `data` (Preview proposal, Propose fixes) have nothing to resolve on the
//    server: they get an empty edit, so the editor runs their command at once, unresolved;
//  * a resolved "Apply proposal" names its validation in an argument-less client command,
//    which starts the validation of the proposal resolved last.

import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';

import { ServerCommand, VALIDATE_APPLIED } from './protocol';

export class CodeActionGuard {
  private pending: unknown[] | undefined;

  readonly middleware: Pick<Middleware, 'provideCodeActions' | 'resolveCodeAction'> = {
    provideCodeActions: async (document, range, context, token, next) => {
      const actions = await next(document, range, context, token);
      for (const action of actions ?? []) {
        if (action instanceof vscode.CodeAction && action.command && !action.edit && !hasData(action)) {
          action.edit = new vscode.WorkspaceEdit();
        }
      }
      return actions;
    },
    resolveCodeAction: async (item, token, next) => {
      const resolved = await next(item, token);
      const command = resolved?.command;
      if (resolved && command?.command === ServerCommand.validate) {
        this.pending = command.arguments ?? [];
        resolved.command = { command: VALIDATE_APPLIED, title: command.title };
      }
      return resolved;
    },
  };

  /** The arguments of the validation the last resolved action asked for (once). */
  take(): unknown[] | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending;
  }
}

function hasData(action: vscode.CodeAction): boolean {
  const data = (action as { data?: unknown }).data;
  return data !== undefined && data !== null;
}
