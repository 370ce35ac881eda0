/** The Tasks view: the tasks grouped by status, with their results below them. */

import * as path from 'path';
import * as vscode from 'vscode';
import { Store } from '../model/store';
import { buildTaskTree, DetailIcon, DetailNode, GroupNode, TaskNode } from '../model/tasksTree';
import { isHeld, TaskStatus } from '../model/protocol';
import { tasksViewMessage } from '../model/statusText';
import { coalesce } from './coalesce';

export type TasksViewNode = GroupNode | TaskNode | DetailNode;

const STATUS_ICONS: Record<TaskStatus, [string, string | undefined]> = {
  available: ['circle-outline', undefined],
  claimed: ['loading~spin', 'charts.yellow'],
  in_progress: ['sync~spin', 'charts.blue'],
  done: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

const DETAIL_ICONS: Record<DetailIcon, string> = {
  output: 'output',
  error: 'warning',
  'file-modified': 'diff-modified',
  'file-created': 'diff-added',
  dependency: 'arrow-small-right',
  subtask: 'list-tree',
  discovery: 'lightbulb',
  hint: 'info',
  context: 'file',
};

export class TasksView implements vscode.TreeDataProvider<TasksViewNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TasksViewNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private groups: GroupNode[] = [];
  private readonly unsubscribe: () => void;
  private tree: vscode.TreeView<TasksViewNode> | undefined;
  /** Ticks the times of held tasks while a run goes, so that they count up. */
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly workspace: string,
  ) {
    this.unsubscribe = store.onChange(coalesce(() => this.refresh()));
    this.refresh();
  }

  /** Where the view says what it cannot show as tasks: planning, or out of date. */
  showMessagesIn(tree: vscode.TreeView<TasksViewNode>): void {
    this.tree = tree;
    this.refresh();
  }

  refresh(): void {
    this.groups = buildTaskTree(this.store.tasks, new Date());
    this.changed.fire(undefined);
    if (this.tree) {
      this.tree.message = tasksViewMessage(this.store);
    }
    const ticking = this.store.runActive && !this.store.stale && this.groups.some((group) => isHeld(group.status));
    if (ticking && !this.ticker) {
      this.ticker = setInterval(() => this.refresh(), 1000);
    } else if (!ticking && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  getChildren(node?: TasksViewNode): TasksViewNode[] {
    if (!node) {
      return this.groups;
    }
    switch (node.kind) {
      case 'group':
        return node.tasks;
      case 'task':
        return node.details;
      case 'detail':
        return [];
    }
  }

  getParent(node: TasksViewNode): TasksViewNode | undefined {
    if (node.kind === 'task') {
      return this.groups.find((group) => group.status === node.status);
    }
    return undefined;
  }

  /** The node of a task as the view shows it now (for reveal). */
  taskNode(id: string): TaskNode | undefined {
    for (const group of this.groups) {
      const node = group.tasks.find((task) => task.id === id);
      if (node) {
        return node;
      }
    }
    return undefined;
  }

  getTreeItem(node: TasksViewNode): vscode.TreeItem {
    switch (node.kind) {
      case 'group': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group:${node.status}`;
        item.contextValue = `baton.group status:${node.status}`;
        return item;
      }
      case 'task': {
        const item = new vscode.TreeItem(
          node.label,
          node.details.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
        );
        item.id = `task:${node.id}`;
        item.description = node.description;
        item.tooltip = new vscode.MarkdownString(node.tooltip);
        item.contextValue = node.contextValue;
        const [spinning, color] = STATUS_ICONS[node.status];
        // Nothing is known to move while the daemon is away.
        const icon = this.store.stale ? spinning.replace('~spin', '') : spinning;
        item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
        item.accessibilityInformation = { label: `${node.label}, ${node.status}, ${node.description}` };
        return item;
      }
      case 'detail': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.description = node.description;
        item.tooltip = node.tooltip;
        if (node.icon) {
          item.iconPath = new vscode.ThemeIcon(DETAIL_ICONS[node.icon]);
        }
        if (node.file) {
          item.resourceUri = vscode.Uri.file(path.join(this.workspace, node.file));
          item.command = { command: 'baton.openFile', title: 'Open File', arguments: [node.file] };
        } else if (node.task) {
          item.command = { command: 'baton.revealTask', title: 'Show Task', arguments: [node.task] };
        }
        return item;
      }
    }
  }

  dispose(): void {
    this.unsubscribe();
    if (this.ticker) {
      clearInterval(this.ticker);
    }
    this.changed.dispose();
  }
}
