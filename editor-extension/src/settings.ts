/** Reads the extension's settings (`baton.*`, contributed in package.json). */

import * as vscode from 'vscode';
import { Settings } from './model/settings';

export { runOverrides } from './model/settings';
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
    agentCommand: config.get<string>('agent.command', ''),
    permissionMode: config.get<string>('agent.permissionMode', ''),
    allowedTools: config.get<string[]>('agent.allowedTools', []),
    taskBudgetUsd: config.get<number>('run.taskBudgetUsd', 0),
    runBudgetUsd: config.get<number>('run.runBudgetUsd', 0),
    verifyCommand: config.get<string>('run.verifyCommand', ''),
    review: config.get<'workspace' | 'on' | 'off'>('run.review', 'workspace'),
    notifyOnTaskFailure: config.get<boolean>('notifications.taskFailed', true),
    notifyOnRunFinished: config.get<boolean>('notifications.runFinished', true),
  };
}

/** Opens the Settings editor on the extension's settings, or on one of them. */
export function openSettings(setting?: string): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', setting ?? '@ext:baton.baton');
}
