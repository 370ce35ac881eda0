/** Wires the extension together: connection, state, status bar, views, commands. */

import * as fs from 'fs';
import * as vscode from 'vscode';
import { Activity } from './activity';
import { registerCommands } from './commands';
import { DaemonConnection } from './connection';
import { BatonDocuments, SCHEME } from './documents';
import { Notification, TASK_NOTIFICATIONS } from './model/protocol';
import { Store } from './model/store';
import { findWorkspaceRoot } from './model/workspace';
import { Recovery } from './recovery';
import { RunState } from './runState';
import { StatusBar } from './statusBar';
import { StateSync } from './sync';
import { GIT_SCHEME, GitContents } from './taskChanges';
import { DiscoveriesView } from './views/discoveriesView';
import { PlanGraphPanel } from './views/planGraphPanel';
import { TimelinePanel } from './views/timelinePanel';
import { TasksView } from './views/tasksView';

let connection: DaemonConnection | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    context.subscriptions.push(noWorkspace(context));
    return;
  }
  const workspace = findWorkspaceRoot(folder.uri.fsPath, fs.existsSync);
  const output = vscode.window.createOutputChannel('Baton', { log: true });
  const store = new Store();
  const statusBar = new StatusBar(store);
  const activity = new Activity(output, workspace);

  let documents: BatonDocuments | undefined;
  let sync: StateSync | undefined;
  let recovery: Recovery | undefined;
  let timeline: TimelinePanel | undefined;
  connection = new DaemonConnection(workspace, output, {
    notification: (method, params) => {
      sync?.notification(method, params);
      activity.notification(method, params);
      timeline?.notification(method, params);
      const taskId = taskOf(method, params);
      if (taskId) {
        documents?.taskActivity(taskId);
      } else if (method === Notification.agentActivity) {
        documents?.leaderActivity();
      }
    },
    progress: (value) => store.progress(value),
    connected: () => void sync?.refresh().catch(() => undefined),
    stateChanged: (state, error) => {
      statusBar.setConnection(state, error, connection?.cli);
      recovery?.stateChanged(state);
    },
    lost: () => recovery?.lost(),
  });
  sync = new StateSync(connection, store);
  recovery = new Recovery(connection, sync, store);
  context.subscriptions.push(recovery);
  documents = new BatonDocuments(connection, store);

  const tasksView = new TasksView(store, workspace);
  const tasksTree = vscode.window.createTreeView('baton.tasks', { treeDataProvider: tasksView, showCollapseAll: true });
  tasksView.showMessagesIn(tasksTree);
  const planGraph = new PlanGraphPanel(context.extensionUri, store, (id) =>
    vscode.commands.executeCommand('baton.openTask', id),
  );
  timeline = new TimelinePanel(context.extensionUri, connection);
  const discoveriesView = new DiscoveriesView(store);
  const discoveriesTree = vscode.window.createTreeView('baton.discoveries', { treeDataProvider: discoveriesView });

  context.subscriptions.push(
    output,
    statusBar,
    new RunState(store),
    documents,
    tasksView,
    tasksTree,
    discoveriesView,
    discoveriesTree,
    planGraph,
    timeline,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
    vscode.workspace.registerTextDocumentContentProvider(GIT_SCHEME, new GitContents()),
    ...registerCommands({ connection, sync, store, documents, tasksView, tasksTree, planGraph, timeline, output, workspace }),
  );
  void connection.connectIfUsed();
}

export async function deactivate(): Promise<void> {
  await connection?.dispose();
  connection = undefined;
}

/** The task a notification is about, if any. */
function taskOf(method: string, params: unknown): string | undefined {
  if (typeof params !== 'object' || params === null) {
    return undefined;
  }
  if (method === Notification.agentActivity) {
    return (params as { task_id?: string | null }).task_id ?? undefined;
  }
  if (TASK_NOTIFICATIONS.includes(method)) {
    return (params as { id?: string }).id;
  }
  return undefined;
}

/** Without a folder there is no workspace: every command says so. */
function noWorkspace(context: vscode.ExtensionContext): vscode.Disposable {
  const contributed = (context.extension.packageJSON as { contributes?: { commands?: { command: string }[] } })
    .contributes?.commands;
  const ids = (contributed ?? []).map((command) => command.command);
  return vscode.Disposable.from(
    ...ids.map((id) =>
      vscode.commands.registerCommand(id, () =>
        vscode.window.showInformationMessage('Baton: open a folder first; baton works on the workspace folder'),
      ),
    ),
  );
}

