/**
 * What every command works with: the connection, the state mirror and the views,
 * and the small things commands share (saying what was done, choosing a task).
 */

import * as vscode from 'vscode';
import { DaemonConnection } from './connection';
import { BatonDocuments } from './documents';
import { oneLine, statusLabel } from './model/format';
import { Task } from './model/protocol';
import { Store } from './model/store';
import { compareIds, TaskNode } from './model/tasksTree';
import { StateSync } from './sync';
import { PlanGraphPanel } from './views/planGraphPanel';
import { TimelinePanel } from './views/timelinePanel';
import { TasksView, TasksViewNode } from './views/tasksView';

/** The pieces of the extension the commands use. */
export interface CommandContext {
  connection: DaemonConnection;
  sync: StateSync;
  store: Store;
  documents: BatonDocuments;
  tasksView: TasksView;
  tasksTree: vscode.TreeView<TasksViewNode>;
  planGraph: PlanGraphPanel;
  timeline: TimelinePanel;
  output: vscode.LogOutputChannel;
  workspace: string;
}

/** A command's task argument: a node of the Tasks view, or a task id. */
export type TaskArgument = TaskNode | string | undefined;

/** A short word in the status bar about what a command did. */
export function say(text: string): void {
  vscode.window.setStatusBarMessage(`Baton: ${text}`, 5000);
}

/** The task a command is for: its argument, else one the user picks among `candidates`. */
export async function chooseTask(
  ctx: CommandContext,
  arg: TaskArgument,
  title: string,
  filter: (task: Task) => boolean,
  none: string,
): Promise<Task | undefined> {
  const store = await ctx.sync.ensureLoaded();
  const id = typeof arg === 'string' ? arg : arg?.id;
  if (id !== undefined) {
    const task = store.task(id);
    if (!task) {
      throw new Error(`task ${id} not found; the Tasks view lists the ids`);
    }
    return task;
  }
  const candidates = store.tasks.filter(filter).sort((a, b) => compareIds(a.id, b.id));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`Baton: ${none}`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((task) => ({
      label: task.id,
      description: statusLabel(task.status),
      detail: oneLine(task.description),
      task,
    })),
    { title, placeHolder: 'Which task?', matchOnDetail: true },
  );
  return picked?.task;
}
