/** The Discoveries view: what the agents found, newest first. */

import * as vscode from 'vscode';
import { buildDiscoveryList, DiscoveryNode } from '../model/discoveries';
import { Store } from '../model/store';
import { coalesce } from './coalesce';

export class DiscoveriesView implements vscode.TreeDataProvider<DiscoveryNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<DiscoveryNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private nodes: DiscoveryNode[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly store: Store) {
    this.unsubscribe = store.onChange(coalesce(() => this.refresh()));
    this.refresh();
  }

  refresh(): void {
    this.nodes = buildDiscoveryList(this.store.discoveries);
    this.changed.fire(undefined);
  }

  getChildren(node?: DiscoveryNode): DiscoveryNode[] {
    return node ? [] : this.nodes;
  }

  getTreeItem(node: DiscoveryNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.iconPath = new vscode.ThemeIcon('lightbulb');
    item.contextValue = node.task ? 'baton.discovery task' : 'baton.discovery';
    if (node.task) {
      item.command = { command: 'baton.revealTask', title: 'Show Task', arguments: [node.task] };
    }
    return item;
  }

  dispose(): void {
    this.unsubscribe();
    this.changed.dispose();
  }
}
