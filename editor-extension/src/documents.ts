/**
 * Read-only documents under the `baton:` scheme: the status report and the agent
 * log of a task. Both follow the daemon: they change as the run goes.
 */

import * as vscode from 'vscode';
import { DaemonConnection } from './connection';
import { renderStatusReport, renderTaskLog } from './model/documents';
import { errorMessage } from './model/messages';
import { AgentLogName, Config, Method, Status, TaskLogChunk } from './model/protocol';
import { Store } from './model/store';
import { coalesce } from './views/coalesce';

export const SCHEME = 'baton';
export const STATUS_URI = vscode.Uri.from({ scheme: SCHEME, path: '/Baton Status.md' });

export function taskLogUri(taskId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: `/logs/${taskId}.log` });
}

/** The log of a run's agent that holds no task: the leader, or the summary agent. */
export function agentLogUri(agent: AgentLogName): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: `/agents/${agent}.log` });
}

/** Whose log a document shows, if it shows one. */
type LogOwner = { task: string } | { agent: AgentLogName };

function logOfUri(uri: vscode.Uri): LogOwner | undefined {
  const task = /^\/logs\/(.+)\.log$/.exec(uri.path)?.[1];
  if (task) {
    return { task };
  }
  const agent = /^\/agents\/(leader|summary)\.log$/.exec(uri.path)?.[1];
  return agent === 'leader' || agent === 'summary' ? { agent } : undefined;
}

/** What has been read of one log. */
interface LogCache {
  text: string;
  offset: number;
}

/** The most chunks read for one refresh of a log (each is one answer of `baton/taskLog`). */
const MAX_LOG_CHUNKS = 64;

export class BatonDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly logs = new Map<string, LogCache>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly connection: DaemonConnection,
    private readonly store: Store,
  ) {
    const statusChanged = coalesce(() => this.refreshIfOpen(STATUS_URI), 500);
    const unsubscribe = store.onChange(statusChanged);
    this.subscriptions.push({ dispose: unsubscribe });
    this.subscriptions.push(
      vscode.workspace.onDidCloseTextDocument((document) => {
        if (document.uri.scheme === SCHEME) {
          this.logs.delete(document.uri.path);
        }
      }),
    );
  }

  /** A task's agent did something: its open log may have grown. */
  taskActivity(taskId: string): void {
    this.refreshIfOpen(taskLogUri(taskId));
  }

  /** The leader did something: its open log may have grown. */
  leaderActivity(): void {
    this.refreshIfOpen(agentLogUri('leader'));
  }

  /** The whole state changed (a load): every log is read again from the start. */
  forgetLogs(): void {
    this.logs.clear();
    for (const document of vscode.workspace.textDocuments) {
      if (document.uri.scheme === SCHEME) {
        this.changed.fire(document.uri);
      }
    }
  }

  private refreshIfOpen(uri: vscode.Uri): void {
    if (vscode.workspace.textDocuments.some((document) => document.uri.toString() === uri.toString())) {
      this.changed.fire(uri);
    }
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    try {
      const owner = logOfUri(uri);
      if (owner && 'task' in owner) {
        const log = await this.readLog(uri.path, (offset) =>
          this.connection.request<TaskLogChunk>(Method.taskLog, { task_id: owner.task, offset }),
        );
        return renderTaskLog(owner.task, log);
      }
      if (owner) {
        const log = await this.readLog(uri.path, (offset) =>
          this.connection.request<TaskLogChunk>(Method.agentLog, { agent: owner.agent, offset }),
        );
        return renderTaskLog(owner.agent, log);
      }
      return await this.statusReport();
    } catch (error) {
      return `baton could not answer: ${errorMessage(error)}\n`;
    }
  }

  private async statusReport(): Promise<string> {
    const [status, config] = await Promise.all([
      this.connection.request<Status>(Method.status),
      this.connection.request<Config>(Method.getConfig),
    ]);
    return renderStatusReport({
      status,
      tasks: this.store.tasks,
      config,
      daemon: this.connection.info,
      lastRun: status.last_run ?? this.store.lastRun,
      now: new Date(),
    });
  }

  /** A log so far (`key` names it): what was read before, and what was written since. */
  private async readLog(key: string, read: (offset: number) => Promise<TaskLogChunk>): Promise<string> {
    const cache = this.logs.get(key) ?? { text: '', offset: 0 };
    for (let i = 0; i < MAX_LOG_CHUNKS; i++) {
      const chunk = await read(cache.offset);
      if (chunk.text === '' || chunk.next_offset <= cache.offset) {
        break;
      }
      cache.text += chunk.text;
      cache.offset = chunk.next_offset;
    }
    this.logs.set(key, cache);
    return cache.text;
  }

  dispose(): void {
    this.changed.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}
