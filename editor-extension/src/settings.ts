/** Reads the extension's settings (`baton.*`, contributed in package.json). */

import * as vscode from 'vscode';
import { Settings } from './model/settings';

export { runDefaults } from './model/settings';
export type { Settings } from './model/settings';

const SECTION = 'baton';

export function readSettings(): Settings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    cliPath: config.get<string>('path', ''),
    daemonPath: config.get<string>('daemonPath', ''),
    maxWorkers: config.get<number>('run.maxWorkers', 0),
    model: config.get<string>('run.model', ''),
    taskTimeout: config.get<number>('run.taskTimeout', 0),
    notifyOnTaskFailure: config.get<boolean>('notifications.taskFailed', true),
    notifyOnRunFinished: config.get<boolean>('notifications.runFinished', true),
  };
}

export function openSettings(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', '@ext:baton.baton');
}
