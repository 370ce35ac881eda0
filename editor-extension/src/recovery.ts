/**
 * When the daemon goes away: the views say that what they show may be out of date,
 * and when a run was going the user is told and the daemon is started again, which
 * resumes the run (the daemon puts the tasks of its lost agents back in the queue).
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { DaemonConnection } from './connection';
import { crashMessage, errorMessage } from './model/messages';
import { ConnectionState } from './model/statusText';
import { Store } from './model/store';
import { StateSync } from './sync';

/** How many times the daemon is started after it died during a run, before giving up. */
const RESTART_ATTEMPTS = 4;

export class Recovery implements vscode.Disposable {
  /** The crash whose notice was shown (its time), so that it is shown once. */
  private noticed: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly connection: DaemonConnection,
    private readonly sync: StateSync,
    private readonly store: Store,
  ) {
    this.unsubscribe = store.onChange(() => this.noticeCrash());
  }

  dispose(): void {
    this.unsubscribe();
  }

  /** The daemon says the one before it crashed (it was found so at start): say so once. */
  private noticeCrash(): void {
    const crash = this.store.status?.crash;
    if (!crash || crash.stopped_at === this.noticed) {
      return;
    }
    this.noticed = crash.stopped_at;
    void vscode.window.showErrorMessage(crashMessage(crash), 'Show Daemon Log').then((choice) => {
      if (choice === 'Show Daemon Log') {
        void vscode.window.showTextDocument(vscode.Uri.file(path.join(this.connection.workspace, crash.log_file)));
      }
    });
  }

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
      await this.startAgain();
    } catch (error) {
      const choice = await vscode.window.showErrorMessage(
        `Baton: the daemon stopped during the run and could not be started again: ${errorMessage(error)}`,
        'Restart Daemon',
        'Show Daemon Log',
      );
      this.choose(choice);
      return;
    }
    if (this.store.status?.crash) {
      // The daemon's own notice says it all, with the log of the daemon that died.
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

  /**
   * Starts the daemon and fetches the state, trying again a few times: right after a
   * crash the daemon's socket or lock may still be held by what the dead daemon left.
   */
  private async startAgain(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.connection.ensureConnected();
        await this.sync.refresh();
        return;
      } catch (error) {
        if (attempt >= RESTART_ATTEMPTS) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      }
    }
  }

  private choose(choice: string | undefined): void {
    if (choice === 'Restart Daemon') {
      void vscode.commands.executeCommand('baton.restartDaemon');
    } else if (choice === 'Show Daemon Log') {
      void vscode.commands.executeCommand('baton.showDaemonLog');
    }
  }
}
