/** The status bar item: the run's progress, live; a click shows the status. */

import * as vscode from 'vscode';
import { ConnectionState, statusBarText } from './model/statusText';
import { Store } from './model/store';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private connection: ConnectionState = 'absent';
  private error: string | undefined;
  private cli: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly store: Store) {
    this.item = vscode.window.createStatusBarItem('baton.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Baton';
    this.item.command = 'baton.showStatus';
    this.unsubscribe = store.onChange(() => this.update());
    this.update();
    this.item.show();
  }

  setConnection(state: ConnectionState, error?: string, cli?: string): void {
    this.connection = state;
    this.error = error;
    this.cli = cli;
    this.update();
  }

  private update(): void {
    const store = this.store;
    const { text, tooltip } = statusBarText({
      connection: this.connection,
      error: this.error,
      cli: this.cli,
      runActive: store.runActive,
      phase: store.runPhase,
      counts: store.counts(),
      busyAgents: store.busyAgents(),
      percentage: store.runProgress?.percentage,
      progressMessage: store.runProgress?.message,
      goal: store.status?.goal,
    });
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      this.connection === 'disconnected' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.unsubscribe();
    this.item.dispose();
  }
}
