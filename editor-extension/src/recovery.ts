/**
 * When the daemon goes away: the views say that what they show may be out of date,
 * and when a run was going the user is told and the daemon is started again, which
 * resumes the run (the daemon puts the tasks of its lost agents back in the queue).
 */

import * as vscode from 'vscode';
import { DaemonConnection } from './connection';
import { errorMessage } from './model/messages';
import { ConnectionState } from './model/statusText';
import { Store } from './model/store';
import { StateSync } from './sync';

export class Recovery {
  constructor(
    private readonly connection: DaemonConnection,
    private readonly sync: StateSync,
    private readonly store: Store,
  ) {}

  stateChanged(state: ConnectionState): void {
    this.store.setStale(state === 'disconnected');
  }

  /** The daemon closed the connection without the extension asking it to. */
  lost(): void {
    if (!this.store.runActive) {
      return;
    }
    void this.restart();
  }

  private async restart(): Promise<void> {
    try {
      await this.connection.ensureConnected();
      await this.sync.refresh();
    } catch (error) {
      const choice = await vscode.window.showErrorMessage(
        `Baton: the daemon stopped during the run and could not be started again: ${errorMessage(error)}`,
        'Restart Daemon',
        'Show Daemon Log',
      );
      this.choose(choice);
      return;
    }
    const goesOn = this.store.runActive;
    const choice = await vscode.window.showErrorMessage(
      goesOn
        ? 'Baton: the daemon stopped during the run; it was started again and the run goes on'
        : 'Baton: the daemon stopped during the run; it was started again, and the run did not resume',
      'Show Daemon Log',
      'Restart Daemon',
    );
    this.choose(choice);
  }

  private choose(choice: string | undefined): void {
    if (choice === 'Restart Daemon') {
      void vscode.commands.executeCommand('baton.restartDaemon');
    } else if (choice === 'Show Daemon Log') {
      void vscode.commands.executeCommand('baton.showDaemonLog');
    }
  }
}
