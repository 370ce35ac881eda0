/**
 * What the user hears of the daemon's work: agent activity and task events in the
 * “Baton” output channel, and a notification when a task fails or a run ends.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { activityLine, runFinishedActions, runFinishedMessage, runFinishedSeverity, taskFailedMessage } from './model/messages';
import { AgentActivity, Discovery, Notification, RunResult, RunStarted, Task } from './model/protocol';
import { oneLine } from './model/format';
import { readSettings } from './settings';

export class Activity {
  constructor(
    private readonly output: vscode.LogOutputChannel,
    /** Where a run's report path is relative to. */
    private readonly workspace: string,
  ) {}

  notification(method: string, params: unknown): void {
    switch (method) {
      case Notification.agentActivity: {
        const a = params as AgentActivity;
        this.output.info(activityLine(a.agent_id, a.task_id, a.kind, a.text));
        break;
      }
      case Notification.runStarted: {
        const run = params as RunStarted;
        this.line(`run started (${run.mode})${run.goal ? `: ${oneLine(run.goal)}` : ''}`);
        for (const note of run.notes ?? []) {
          this.line(`  ${note}`);
        }
        break;
      }
      case Notification.runFinished: {
        const result = params as RunResult;
        const message = runFinishedMessage(result);
        this.line(message.replace(/^Baton: /, ''));
        if (readSettings().notifyOnRunFinished) {
          const show = {
            info: vscode.window.showInformationMessage,
            warning: vscode.window.showWarningMessage,
            error: vscode.window.showErrorMessage,
          }[runFinishedSeverity(result)];
          const report = result.report ? vscode.Uri.file(path.resolve(this.workspace, result.report)) : undefined;
          void show(message, ...runFinishedActions(result)).then((choice) => {
            if (choice === 'Show Status') {
              void vscode.commands.executeCommand('baton.showStatus');
            } else if (choice === 'Open Report' && report) {
              void vscode.commands.executeCommand('markdown.showPreview', report);
            }
          });
        }
        break;
      }
      case Notification.taskCreated: {
        const task = params as Task;
        this.line(`${task.id} added: ${oneLine(task.description)}`);
        break;
      }
      case Notification.taskCompleted: {
        const task = params as Task;
        this.line(`${task.id} done${task.result?.output ? `: ${oneLine(task.result.output)}` : ''}`);
        break;
      }
      case Notification.taskFailed: {
        const task = params as Task;
        this.line(`${task.id} ${task.status}${task.result?.error ? `: ${oneLine(task.result.error)}` : ''}`);
        const message = taskFailedMessage(task);
        if (message && readSettings().notifyOnTaskFailure) {
          void vscode.window.showErrorMessage(message, 'Show Log', 'Retry').then((choice) => {
            if (choice === 'Show Log') {
              void vscode.commands.executeCommand('baton.showTaskLog', task.id);
            } else if (choice === 'Retry') {
              void vscode.commands.executeCommand('baton.retryTask', task.id);
            }
          });
        }
        break;
      }
      case Notification.discovery: {
        const discovery = params as Discovery;
        const where = discovery.related_task ? ` (${discovery.related_task})` : '';
        this.line(`${discovery.agent_id}${where} found: ${oneLine(discovery.content)}`);
        break;
      }
      default:
        break;
    }
  }

  private line(text: string): void {
    this.output.info(text);
  }
}
