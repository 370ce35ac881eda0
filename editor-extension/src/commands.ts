/**
 * The commands of the palette and of the views' menus. Each asks what it needs with
 * quick inputs, makes its request and shows the daemon's error message when there
 * is one. None of them blocks the editor: they run as promises.
 */

import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { chooseTask, CommandContext, say, TaskArgument } from './commandContext';
import { findExecutable } from './connection';
import { agentLogUri, STATUS_URI, taskLogUri } from './documents';
import { agentEnvironment } from './model/agentEnv';
import { oneLine, plural } from './model/format';
import {
  agentMissingMessage,
  errorMessage,
  errorRemedy,
  loadStateQuestion,
  newGoalQuestion,
  Remedy,
  RemedyAction,
} from './model/messages';
import { Config, InitParams, isFinished, Method, MergeResult, RunMode, SavedState, Status, Task } from './model/protocol';
import { setupReport } from './model/setup';
import { changedFiles } from './model/tasksTree';
import { programCandidates } from './model/workspace';
import { openSettings, readSettings, runOverrides } from './settings';
import { showChanges } from './taskChanges';
import { addTask, deleteTask, editTask } from './taskEditing';

/** Where Claude Code's installation is explained. */
const CLAUDE_CODE_SETUP = 'https://docs.anthropic.com/en/docs/claude-code/setup';

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const commands: [string, (...args: never[]) => Promise<unknown>][] = [
    ['baton.init', () => initializeGoal(ctx)],
    ['baton.addTask', () => addTask(ctx)],
    ['baton.runLeader', () => run(ctx, 'leader')],
    ['baton.runPredefined', () => run(ctx, 'predefined')],
    ['baton.planGoal', () => run(ctx, 'plan')],
    ['baton.runPlan', () => run(ctx, 'predefined')],
    ['baton.stop', () => stop(ctx)],
    ['baton.showStatus', () => showStatus(ctx)],
    ['baton.cancelTask', (arg: TaskArgument) => cancelTask(ctx, arg)],
    ['baton.retryTask', (arg: TaskArgument) => retryTask(ctx, arg)],
    ['baton.editTask', (arg: TaskArgument) => editTask(ctx, arg)],
    ['baton.deleteTask', (arg: TaskArgument) => deleteTask(ctx, arg)],
    ['baton.showTaskLog', (arg: TaskArgument) => showTaskLog(ctx, arg)],
    ['baton.showLeaderLog', () => showLeaderLog(ctx)],
    ['baton.openChangedFiles', (arg: TaskArgument) => openChangedFiles(ctx, arg)],
    ['baton.saveState', () => saveState(ctx)],
    ['baton.loadState', () => loadState(ctx)],
    ['baton.merge', () => merge(ctx)],
    ['baton.openSettings', async () => openSettings()],
    ['baton.showActivity', async () => ctx.output.show(true)],
    ['baton.refresh', () => ctx.sync.refresh()],
    ['baton.restartDaemon', () => restartDaemon(ctx)],
    ['baton.showDaemonLog', () => showDaemonLog(ctx)],
    ['baton.checkSetup', () => checkSetup(ctx)],
    ['baton.openFile', (file: string) => openFiles(ctx, [file])],
    ['baton.revealTask', (id: string) => revealTask(ctx, id)],
    ['baton.showPlanGraph', () => showPlanGraph(ctx)],
    ['baton.showTimeline', () => showTimeline(ctx)],
    ['baton.openTask', (id: string) => openTask(ctx, id)],
    ['baton.showChanges', (arg: TaskArgument) => showChanges(ctx, arg)],
  ];
  return commands.map(([id, handler]) =>
    vscode.commands.registerCommand(id, (...args: never[]) => guarded(ctx, id, () => handler(...args))),
  );
}

/**
 * Runs a command; an error is shown as its message, never as a stack trace, and
 * with the extension's own buttons when the daemon said what it is about.
 */
async function guarded(ctx: CommandContext, command: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    const message = errorMessage(error);
    ctx.output.error(message);
    const remedy = errorRemedy(error, command);
    if (remedy) {
      void offerRemedy(ctx, remedy);
    } else {
      void vscode.window.showErrorMessage(`Baton: ${message}`);
    }
  }
}

async function offerRemedy(ctx: CommandContext, remedy: Remedy): Promise<void> {
  const chosen = await vscode.window.showErrorMessage(
    `Baton: ${remedy.message}`,
    ...remedy.actions.map((action) => action.title),
  );
  const action = remedy.actions.find((candidate) => candidate.title === chosen)?.action;
  if (action) {
    await guarded(ctx, `remedy:${action}`, () => remedies[action](ctx));
  }
}

const remedies: Record<RemedyAction, (ctx: CommandContext) => Promise<unknown>> = {
  stop: (ctx) => stop(ctx),
  showStatus: (ctx) => showStatus(ctx),
  init: (ctx) => initializeGoal(ctx),
  addTask: (ctx) => addTask(ctx),
  sharedIsolation: async (ctx) => {
    await ctx.connection.request<Config>(Method.configure, { isolation: 'shared' });
    say('isolation set to shared: agents work in the folder itself');
  },
};

async function initializeGoal(ctx: CommandContext): Promise<void> {
  const status = ctx.store.status;
  const goal = await vscode.window.showInputBox({
    title: 'Baton: Initialize Goal (1/2)',
    prompt: 'What should the team of agents achieve?',
    placeHolder: 'Add user authentication',
    value: status?.goal ?? '',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === '' ? 'The goal must not be empty' : undefined),
  });
  if (goal === undefined) {
    return;
  }
  const plan = await vscode.window.showInputBox({
    title: 'Baton: Initialize Goal (2/2)',
    prompt: 'The master plan (optional). Leave it empty and the leader writes one when a run plans.',
    placeHolder: '1. Schema  2. Endpoints  3. Tests',
    value: status?.master_plan ?? '',
    ignoreFocusOut: true,
  });
  if (plan === undefined) {
    return;
  }
  const keep = await keepBoard(ctx, goal);
  if (keep === undefined) {
    return;
  }
  const params: InitParams = { goal: goal.trim(), master_plan: plan, ...(keep ? { keep } : {}) };
  await ctx.connection.request<Status>(Method.init, params);
  say(`goal set: ${oneLine(goal, 60)}`);
}

/**
 * Whether a new goal keeps the board's tasks, asked when it would put them aside:
 * false to start empty, undefined when the user thought better of it.
 */
async function keepBoard(ctx: CommandContext, goal: string): Promise<boolean | undefined> {
  const store = await ctx.sync.ensureLoaded();
  const question = newGoalQuestion(store.status?.goal ?? '', goal, store.tasks, store.discoveries.length);
  if (!question) {
    return false;
  }
  const choice = await vscode.window.showWarningMessage(question, { modal: true }, 'Start Empty', 'Keep the Tasks');
  return choice === undefined ? undefined : choice === 'Keep the Tasks';
}

async function run(ctx: CommandContext, mode: RunMode): Promise<void> {
  const store = await ctx.sync.ensureLoaded();
  let goal: string | undefined;
  if (mode === 'leader' || mode === 'plan') {
    const current = store.status?.goal ?? '';
    const answer = await vscode.window.showInputBox({
      title: mode === 'plan' ? 'Baton: Plan Goal' : 'Baton: Run with Leader Planning',
      prompt:
        mode === 'plan'
          ? 'The goal the leader plans into tasks; no worker starts until “Baton: Run Plan”'
          : 'The goal the leader plans into tasks',
      placeHolder: 'Add user authentication',
      value: current,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === '' ? 'The goal must not be empty' : undefined),
    });
    if (answer === undefined) {
      return;
    }
    // Setting the goal again would clear the master plan: only a new goal is sent.
    goal = answer.trim() !== current.trim() ? answer.trim() : undefined;
    const keep = goal === undefined ? false : await keepBoard(ctx, goal);
    if (keep === undefined) {
      return;
    }
    if (keep && goal !== undefined) {
      const params: InitParams = { goal, master_plan: store.status?.master_plan ?? '', keep };
      await ctx.connection.request<Status>(Method.init, params);
      goal = undefined;
    }
  } else if (!store.tasks.some((task) => task.status === 'available')) {
    void vscode.window.showInformationMessage('Baton: no task is waiting to run; add one with “Baton: Add Task”');
    return;
  }
  const settings = readSettings();
  const overrides = runOverrides(settings);
  if (!(await agentCommandFound(ctx, overrides?.agent_command))) {
    return;
  }
  const env = agentEnvironment(process.env);
  await ctx.connection.request<null>(Method.run, { mode, goal, wait: false, overrides, env });
  const started: Record<RunMode, string> = {
    leader: 'the leader is planning',
    plan: 'the leader is planning; no worker starts until “Baton: Run Plan”',
    predefined: 'run started',
  };
  say(started[mode]);
}

/**
 * Whether the agents' program can be found before a run starts; when it cannot,
 * says so as an error with the ways to fix it, rather than a run that does nothing.
 */
async function agentCommandFound(ctx: CommandContext, fromSetting: string | undefined): Promise<boolean> {
  const command = fromSetting ?? (await ctx.connection.request<Config>(Method.getConfig)).agent_command;
  if (await findExecutable(programCandidates(command, ctx.workspace, process.env))) {
    return true;
  }
  const choice = await vscode.window.showErrorMessage(
    `Baton: ${agentMissingMessage(command, fromSetting !== undefined)}`,
    'Open Setting',
    'Install Claude Code',
  );
  if (choice === 'Open Setting') {
    await openSettings('baton.agent.command');
  } else if (choice === 'Install Claude Code') {
    await vscode.env.openExternal(vscode.Uri.parse(CLAUDE_CODE_SETUP));
  }
  return false;
}

async function stop(ctx: CommandContext): Promise<void> {
  const store = await ctx.sync.ensureLoaded();
  if (!store.runActive) {
    say('no run is going');
    return;
  }
  // The answer comes once every agent has ended, which may take a moment.
  const status = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Baton: stopping the run and its agents…' },
    () => ctx.connection.request<Status>(Method.stop),
  );
  const back = status.progress.by_status.available;
  say(`stopped; ${plural(back, 'task')} ${back === 1 ? 'waits' : 'wait'} for the next run`);
}

async function showStatus(ctx: CommandContext): Promise<void> {
  if (!ctx.connection.used()) {
    const choice = await vscode.window.showInformationMessage(
      'Baton: baton is not started in this folder yet; set a goal or add a task to begin',
      'Initialize Goal',
      'Add Task',
    );
    if (choice === 'Initialize Goal') {
      await initializeGoal(ctx);
    } else if (choice === 'Add Task') {
      await addTask(ctx);
    }
    return;
  }
  await ctx.sync.ensureLoaded();
  const document = await vscode.workspace.openTextDocument(STATUS_URI);
  await vscode.window.showTextDocument(document, { preview: true });
}

async function cancelTask(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(ctx, arg, 'Baton: Cancel Task', (t) => !isFinished(t.status), 'no unfinished task to cancel');
  if (!task) {
    return;
  }
  await ctx.connection.request<Task>(Method.cancelTask, { task_id: task.id });
  say(`${task.id} cancelled`);
}

async function retryTask(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(
    ctx,
    arg,
    'Baton: Retry Task',
    (t) => t.status === 'failed' || t.status === 'cancelled',
    'no failed or cancelled task to retry',
  );
  if (!task) {
    return;
  }
  const reopened = await ctx.connection.request<Task[]>(Method.retryTask, { task_id: task.id });
  const others = reopened.length - 1;
  const what = `${task.id} reopened${others > 0 ? ` with ${plural(others, 'dependent task')}` : ''}`;
  if (ctx.store.runActive) {
    say(`${what}; the run takes it`);
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `Baton: ${what}; it waits for a run`,
    'Run Now',
  );
  if (choice === 'Run Now') {
    await run(ctx, 'predefined');
  }
}

async function showTaskLog(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(ctx, arg, 'Baton: Show Task Log', (t) => t.attempts > 0, 'no task has been worked on yet');
  if (!task) {
    return;
  }
  const document = await vscode.workspace.openTextDocument(taskLogUri(task.id));
  await vscode.window.showTextDocument(document, { preview: false });
}

/** The leader's log: how it explored and planned, every run's one after the other. */
async function showLeaderLog(ctx: CommandContext): Promise<void> {
  await ctx.sync.ensureLoaded();
  const document = await vscode.workspace.openTextDocument(agentLogUri('leader'));
  await vscode.window.showTextDocument(document, { preview: false });
}

async function openChangedFiles(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(
    ctx,
    arg,
    'Baton: Open Changed Files',
    (t) => changedFiles(t).length > 0,
    'no task has changed files yet',
  );
  if (!task) {
    return;
  }
  const files = changedFiles(task);
  if (files.length === 0) {
    void vscode.window.showInformationMessage(`Baton: ${task.id} changed no files`);
    return;
  }
  await openFiles(ctx, files);
}

/**
 * Opens files of the workspace. A file that is not in the working tree (a task's
 * work merged into the integration branch, not yet into the current branch) is
 * opened as it is on that branch.
 */
async function openFiles(ctx: CommandContext, files: string[]): Promise<void> {
  let branch: string | undefined;
  for (const file of files) {
    const absolute = path.resolve(ctx.workspace, file);
    if (fs.existsSync(absolute)) {
      await vscode.window.showTextDocument(vscode.Uri.file(absolute), { preview: files.length === 1 });
      continue;
    }
    branch ??= (await ctx.connection.request<Config>(Method.getConfig)).integration_branch;
    if (!branch) {
      throw new Error(`${file} is not in the workspace`);
    }
    const uri = vscode.Uri.from({
      scheme: 'git',
      path: absolute,
      query: JSON.stringify({ path: absolute, ref: branch }),
    });
    try {
      // Titled with the branch, so that it is not taken for the file of the checkout.
      await vscode.commands.executeCommand('vscode.open', uri, { preview: files.length === 1 }, `${path.basename(file)} (${branch})`);
    } catch {
      throw new Error(
        `${file} is not in the working tree; it is on branch ${branch} (“Baton: Merge Results into Current Branch” brings it in)`,
      );
    }
    void offerBranchDiff(file, absolute, branch);
  }
}

/**
 * Says where a file opened from the integration branch comes from, and offers its
 * changes against the user's branch.
 */
async function offerBranchDiff(file: string, absolute: string, branch: string): Promise<void> {
  const choice = await vscode.window.showInformationMessage(
    `Baton: ${file} is shown as it is on branch ${branch}: the task's work is not in your branch yet`,
    'Compare with Your Branch',
    'Merge Results',
  );
  const at = (ref: string) => vscode.Uri.from({ scheme: 'git', path: absolute, query: JSON.stringify({ path: absolute, ref }) });
  if (choice === 'Compare with Your Branch') {
    await vscode.commands.executeCommand('vscode.diff', at('HEAD'), at(branch), `${file} (your branch ↔ ${branch})`);
  } else if (choice === 'Merge Results') {
    await vscode.commands.executeCommand('baton.merge');
  }
}

async function saveState(ctx: CommandContext): Promise<void> {
  const uri = await vscode.window.showSaveDialog({
    title: 'Baton: Save State',
    defaultUri: vscode.Uri.file(path.join(ctx.workspace, 'baton-state.json')),
    filters: { 'baton state': ['json'] },
    saveLabel: 'Save State',
  });
  if (!uri) {
    return;
  }
  const saved = await ctx.connection.request<SavedState>(Method.saveState, { path: uri.fsPath });
  void vscode.window.showInformationMessage(
    `Baton: saved ${plural(saved.tasks, 'task')} and ${plural(saved.discoveries, 'discovery', 'discoveries')} to ${saved.path}`,
  );
}

async function loadState(ctx: CommandContext): Promise<void> {
  const uris = await vscode.window.showOpenDialog({
    title: 'Baton: Load State (replaces the tasks, discoveries and settings)',
    defaultUri: vscode.Uri.file(ctx.workspace),
    canSelectMany: false,
    canSelectFolders: false,
    filters: { 'baton state': ['json'] },
    openLabel: 'Load State',
  });
  const uri = uris?.[0];
  if (!uri) {
    return;
  }
  const store = await ctx.sync.ensureLoaded();
  const question = loadStateQuestion(store.tasks.length, store.discoveries.length, path.basename(uri.fsPath));
  if (question && (await vscode.window.showWarningMessage(question, { modal: true }, 'Replace')) !== 'Replace') {
    return;
  }
  const status = await ctx.connection.request<Status>(Method.loadState, { path: uri.fsPath });
  ctx.documents.forgetLogs();
  await ctx.sync.refresh();
  void vscode.window.showInformationMessage(
    `Baton: loaded ${plural(status.progress.total_tasks, 'task')} from ${path.basename(uri.fsPath)}`,
  );
}

async function merge(ctx: CommandContext): Promise<void> {
  const result = await ctx.connection.request<MergeResult>(Method.merge);
  void vscode.window.showInformationMessage(`Baton: ${result.message}`);
}

/**
 * Looks for what the agents need (baton, Claude Code, an API key or login) without
 * starting anything, and says what is missing.
 */
async function checkSetup(ctx: CommandContext): Promise<void> {
  const setting = readSettings().agentCommand.trim();
  const agentCommand =
    setting || (ctx.connection.used() ? (await ctx.connection.request<Config>(Method.getConfig)).agent_command : 'claude');
  const agentPath = await findExecutable(programCandidates(agentCommand, ctx.workspace, process.env));
  const agentVersion = agentPath ? await programVersion(agentPath) : undefined;
  const home = process.env.HOME ?? '';
  const report = setupReport({
    agentCommand,
    agentPath,
    agentVersion,
    apiKey: (process.env.ANTHROPIC_API_KEY ?? '').trim() !== '',
    login: home !== '' && fs.existsSync(path.join(home, '.claude', '.credentials.json')),
    baton: await ctx.connection.locateCli(),
  });
  for (const line of report.lines) {
    ctx.output.info(`[setup] ${line}`);
  }
  await vscode.commands.executeCommand('setContext', 'baton.setupChecked', report.ready);
  const text = `Baton: ${report.lines.join('  ')}`;
  if (report.ready) {
    void vscode.window.showInformationMessage(text);
    return;
  }
  const choice = await vscode.window.showWarningMessage(text, 'Open Settings', 'Install Claude Code');
  if (choice === 'Open Settings') {
    await openSettings();
  } else if (choice === 'Install Claude Code') {
    await vscode.env.openExternal(vscode.Uri.parse(CLAUDE_CODE_SETUP));
  }
}

/** What `<program> --version` prints, or undefined when it does not answer in time. */
function programVersion(program: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(program, ['--version'], { timeout: 10_000 }, (error, stdout) => resolve(error ? undefined : String(stdout).trim()));
  });
}

async function restartDaemon(ctx: CommandContext): Promise<void> {
  await ctx.connection.restart();
  await ctx.sync.refresh();
  say('the daemon was restarted');
}

async function showDaemonLog(ctx: CommandContext): Promise<void> {
  const info = ctx.connection.info ?? (await ctx.connection.ensureConnected().then(() => ctx.connection.info));
  if (!info) {
    throw new Error('the daemon has not said where it logs; run “Baton: Restart Daemon”');
  }
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(info.log_file));
  const editor = await vscode.window.showTextDocument(document, { preview: false });
  const end = document.lineAt(Math.max(0, document.lineCount - 1)).range.end;
  editor.revealRange(new vscode.Range(end, end));
}

async function revealTask(ctx: CommandContext, id: string): Promise<void> {
  await ctx.sync.ensureLoaded();
  ctx.tasksView.refresh();
  const node = ctx.tasksView.taskNode(id);
  if (!node) {
    throw new Error(`task ${id} not found`);
  }
  await ctx.tasksTree.reveal(node, { select: true, focus: true, expand: true });
}

async function showPlanGraph(ctx: CommandContext): Promise<void> {
  await ctx.sync.ensureLoaded();
  ctx.planGraph.show();
}

async function showTimeline(ctx: CommandContext): Promise<void> {
  await ctx.connection.ensureConnected();
  await ctx.timeline.show();
}

/** A task chosen elsewhere (a node of the plan graph): its log beside, its row selected. */
async function openTask(ctx: CommandContext, id: string): Promise<void> {
  await ctx.sync.ensureLoaded();
  ctx.tasksView.refresh();
  const node = ctx.tasksView.taskNode(id);
  if (!node) {
    throw new Error(`task ${id} not found`);
  }
  const document = await vscode.workspace.openTextDocument(taskLogUri(id));
  await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  await ctx.tasksTree.reveal(node, { select: true, focus: false, expand: true });
}
