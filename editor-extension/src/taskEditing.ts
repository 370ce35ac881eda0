/**
 * The commands that add, edit and delete a task: quick inputs that check what is
 * typed where it is typed (model/taskInput.ts), then one request.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { chooseTask, CommandContext, say, TaskArgument } from './commandContext';
import { oneLine, statusLabel } from './model/format';
import { EditTaskParams, isFinished, Method, NewTask, Task } from './model/protocol';
import { parsePriority, unknownDependencies } from './model/taskInput';
import { compareIds } from './model/tasksTree';

/** Files never offered as context files. */
const EXCLUDED_FILES = '{**/node_modules/**,**/.git/**,**/.baton/**,**/target/**,**/out/**}';
const MAX_CONTEXT_FILES = 5000;

export async function addTask(ctx: CommandContext): Promise<void> {
  const description = await vscode.window.showInputBox({
    title: 'Baton: Add Task (1/5)',
    prompt: 'What needs to be done?',
    placeHolder: 'Create the User model',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === '' ? 'The description must not be empty' : undefined),
  });
  if (description === undefined) {
    return;
  }
  const priority = await pickPriority('Baton: Add Task (2/5)');
  if (priority === undefined) {
    return;
  }
  const store = await ctx.sync.ensureLoaded();
  const dependencies = await pickDependencies('Baton: Add Task (3/5)', store.tasks);
  if (dependencies === undefined) {
    return;
  }
  const contextFiles = await pickContextFiles(ctx.workspace);
  if (contextFiles === undefined) {
    return;
  }
  const hints = await vscode.window.showInputBox({
    title: 'Baton: Add Task (5/5)',
    prompt: 'Hints for the worker (optional)',
    placeHolder: 'Use JWT',
    ignoreFocusOut: true,
  });
  if (hints === undefined) {
    return;
  }
  const task: NewTask = { description: description.trim(), priority, dependencies, context_files: contextFiles };
  if (hints.trim() !== '') {
    task.hints = hints.trim();
  }
  const added = await ctx.connection.request<Task>(Method.addTask, task);
  say(`added ${added.id}`);
}

interface ValueItem<T> extends vscode.QuickPickItem {
  value: T;
}

async function pickPriority(title: string, current?: number): Promise<number | undefined> {
  const typed = await vscode.window.showInputBox({
    title,
    prompt: 'Priority: 1 is the most urgent, 10 the least; empty for 5',
    placeHolder: '5',
    value: current === undefined ? '' : String(current),
    ignoreFocusOut: true,
    validateInput: (value) => {
      const parsed = parsePriority(value);
      return 'error' in parsed ? parsed.error : undefined;
    },
  });
  if (typed === undefined) {
    return undefined;
  }
  const parsed = parsePriority(typed);
  return 'priority' in parsed ? parsed.priority : undefined;
}

/**
 * The tasks a new task depends on, ticked in a list. Text typed into the list that
 * matches no task (an id that does not exist) is named in the list, and Enter does
 * not close it until the text is cleared or matches.
 */
function pickDependencies(title: string, tasks: Task[], of?: Task): Promise<string[] | undefined> {
  const candidates = tasks
    .filter((task) => task.status !== 'failed' && task.status !== 'cancelled' && task.id !== of?.id)
    .sort((a, b) => compareIds(a.id, b.id));
  if (candidates.length === 0) {
    return Promise.resolve([]);
  }
  const items: ValueItem<string>[] = candidates.map((task) => ({
    label: task.id,
    description: statusLabel(task.status),
    detail: oneLine(task.description),
    value: task.id,
  }));
  return new Promise((resolve) => {
    const pick = vscode.window.createQuickPick<ValueItem<string>>();
    pick.title = title;
    pick.placeholder = 'Dependencies: tick the tasks that must be done first (none is fine)';
    pick.canSelectMany = true;
    pick.matchOnDetail = true;
    pick.ignoreFocusOut = true;
    pick.items = items;
    pick.selectedItems = items.filter((item) => of?.dependencies.includes(item.value));
    let chosen: string[] | undefined;
    const problem = (): string | undefined => unknownDependencies(pick.value, candidates);
    let shown: string | undefined;
    pick.onDidChangeValue(() => {
      const message = problem();
      if (message === shown) {
        return;
      }
      shown = message;
      const selected = pick.selectedItems.filter((item) => item.value !== '');
      pick.items = message ? [...items, { label: `$(error) ${message}`, value: '', alwaysShow: true }] : items;
      pick.selectedItems = selected;
    });
    pick.onDidAccept(() => {
      if (problem()) {
        return;
      }
      chosen = pick.selectedItems.map((item) => item.value).filter((id) => id !== '');
      pick.hide();
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve(chosen);
    });
    pick.show();
  });
}

async function pickContextFiles(workspace: string): Promise<string[] | undefined> {
  const uris = await vscode.workspace.findFiles(
    new vscode.RelativePattern(workspace, '**/*'),
    EXCLUDED_FILES,
    MAX_CONTEXT_FILES,
  );
  if (uris.length === 0) {
    return [];
  }
  const items = uris
    .map((uri) => path.relative(workspace, uri.fsPath))
    .filter((file) => !file.startsWith('..'))
    .sort()
    .map((file) => ({ label: file }));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Baton: Add Task (4/5)',
    placeHolder: 'Context files: files the worker should look at (none is fine)',
    canPickMany: true,
    ignoreFocusOut: true,
  });
  return picked?.map((item) => item.label);
}

/** Changes a task that has not finished: its description, priority and dependencies. */
export async function editTask(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(ctx, arg, 'Baton: Edit Task', (t) => !isFinished(t.status), 'no unfinished task to edit');
  if (!task) {
    return;
  }
  const description = await vscode.window.showInputBox({
    title: `Baton: Edit ${task.id} (1/3)`,
    prompt: 'What needs to be done?',
    value: task.description,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === '' ? 'The description must not be empty' : undefined),
  });
  if (description === undefined) {
    return;
  }
  const priority = await pickPriority(`Baton: Edit ${task.id} (2/3)`, task.priority);
  if (priority === undefined) {
    return;
  }
  const dependencies = await pickDependencies(`Baton: Edit ${task.id} (3/3)`, ctx.store.tasks, task);
  if (dependencies === undefined) {
    return;
  }
  const edit: EditTaskParams = { task_id: task.id };
  if (description.trim() !== task.description) {
    edit.description = description.trim();
  }
  if (priority !== task.priority) {
    edit.priority = priority;
  }
  if ([...dependencies].sort().join() !== [...task.dependencies].sort().join()) {
    edit.dependencies = dependencies;
  }
  if (Object.keys(edit).length === 1) {
    say(`${task.id} is as it was`);
    return;
  }
  await ctx.connection.request<Task>(Method.editTask, edit);
  say(`${task.id} changed`);
}

/** Deletes a task that never started, after asking. */
export async function deleteTask(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(
    ctx,
    arg,
    'Baton: Delete Task',
    (t) => t.status === 'available' && t.attempts === 0,
    'no task that has not started to delete',
  );
  if (!task) {
    return;
  }
  const answer = await vscode.window.showWarningMessage(
    `Delete ${task.id} “${oneLine(task.description, 80)}”? It has not started; nothing of it is kept.`,
    { modal: true },
    'Delete',
  );
  if (answer !== 'Delete') {
    return;
  }
  await ctx.connection.request<Task>(Method.deleteTask, { task_id: task.id });
  say(`${task.id} deleted`);
}
