/**
 * The run's state where the editor shows it beyond the extension's own items: the
 * context keys that `when` clauses read (toolbar buttons, the Tasks view's welcome
 * text), and VS Code's window progress while a run goes.
 */

import * as vscode from 'vscode';
import { progressLine } from './model/statusText';
import { Store } from './model/store';

export class RunState implements vscode.Disposable {
  private readonly unsubscribe: () => void;
  private finishProgress: (() => void) | undefined;
  private reportProgress: ((message: string) => void) | undefined;
  private last = '';

  constructor(private readonly store: Store) {
    this.unsubscribe = store.onChange(() => this.update());
    this.update();
  }

  private update(): void {
    const store = this.store;
    const keys = `${store.runActive}/${store.planning}/${store.stale}`;
    if (keys !== this.last) {
      this.last = keys;
      void vscode.commands.executeCommand('setContext', 'baton.running', store.runActive);
      void vscode.commands.executeCommand('setContext', 'baton.planning', store.planning);
      void vscode.commands.executeCommand('setContext', 'baton.stale', store.stale);
    }
    if (store.runActive && !this.finishProgress) {
      this.startProgress();
    } else if (!store.runActive && this.finishProgress) {
      this.finishProgress();
      this.finishProgress = undefined;
      this.reportProgress = undefined;
    }
    this.reportProgress?.(
      store.planning ? 'the leader is planning' : (store.runProgress?.message ?? progressLine(store.counts())),
    );
  }

  private startProgress(): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'Baton' },
      (progress) =>
        new Promise<void>((resolve) => {
          this.finishProgress = resolve;
          this.reportProgress = (message) => progress.report({ message });
        }),
    );
  }

  dispose(): void {
    this.unsubscribe();
    this.finishProgress?.();
  }
}
