/**
 * What the extension tells the user: error text and the notifications of a failed
 * task and a finished run.
 */

import { ActivityKind, Crash, ErrorCause, ErrorData, isFinished, RunResult, Task } from './protocol';
import { formatCost, localTime, oneLine, plural } from './format';

/**
 * The message of an error, as a person should see it: a daemon error's own message
 * (JSON-RPC `error.message`, which says what to do), never a stack trace.
 */
export function errorMessage(error: unknown): string {
  if (typeof error === 'string') {
    return error;
  }
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string' && message.trim() !== '') {
      return firstLine(message);
    }
  }
  return 'something went wrong; the “Baton” output channel has details';
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.trim();
}

/**
 * The notification for a task that failed, or undefined when none is due: a
 * cancellation is the user's own doing, and a task that failed because its
 * dependency did is covered by the dependency's notification.
 */
export function taskFailedMessage(task: Task): string | undefined {
  if (task.status !== 'failed' || task.failed_dependency) {
    return undefined;
  }
  const reason = task.result?.error ? `: ${oneLine(task.result.error, 200)}` : '';
  return `Baton: ${task.id} failed${reason}`;
}

/** What an error is about (its `data.cause`), when the daemon said. */
export function errorCause(error: unknown): ErrorCause | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const data = (error as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) {
    return undefined;
  }
  const cause = (data as ErrorData).cause;
  return cause === 'run_going' || cause === 'no_goal' || cause === 'nothing_to_run' || cause === 'not_a_git_repository'
    ? cause
    : undefined;
}

/** A way out the extension offers with an error: one of its own actions. */
export type RemedyAction = 'stop' | 'showStatus' | 'init' | 'addTask' | 'sharedIsolation';

export interface Remedy {
  message: string;
  /** Buttons, each with its title. */
  actions: { title: string; action: RemedyAction }[];
}

/**
 * The editor's own words and buttons for an error the daemon marked with a cause,
 * instead of a message that names a `baton` command; undefined when it has none.
 * `command` is the extension command that failed: the same cause can mean another
 * thing to another command.
 */
export function errorRemedy(error: unknown, command: string): Remedy | undefined {
  switch (errorCause(error)) {
    case 'run_going':
      return {
        message: 'a run is going; stop it first, or follow it in the status',
        actions: [
          { title: 'Stop Run', action: 'stop' },
          { title: 'Show Status', action: 'showStatus' },
        ],
      };
    case 'no_goal':
      return {
        message: 'there is no goal to plan yet; set one first',
        actions: [{ title: 'Initialize Goal', action: 'init' }],
      };
    case 'nothing_to_run':
      return {
        message: 'no task waits to run; add one first',
        actions: [{ title: 'Add Task', action: 'addTask' }],
      };
    case 'not_a_git_repository':
      if (command === 'baton.merge') {
        return {
          message: 'there is nothing to merge: this folder is not a git repository, so the agents work in it directly',
          actions: [],
        };
      }
      return {
        message:
          'this folder is not a git repository, so tasks cannot each work in a worktree; with shared isolation the agents work in the folder itself',
        actions: [{ title: 'Use Shared Isolation', action: 'sharedIsolation' }],
      };
    case undefined:
      return undefined;
  }
}

/**
 * How loud the end of a run is: an error when it did nothing, a warning when some
 * failed or it stopped before its work was done.
 */
export function runFinishedSeverity(result: RunResult): 'info' | 'warning' | 'error' {
  if (result.tasks_completed === 0) {
    return 'error';
  }
  return result.tasks_failed > 0 || result.stopped ? 'warning' : 'info';
}

/** What an agent command that cannot be found means, and what to do. */
export function agentMissingMessage(command: string, fromSetting: boolean): string {
  const where = fromSetting ? 'setting “Baton › Agent: Command”' : 'the workspace’s agent_command';
  return `the agents’ program “${command}” (${where}) was not found; install Claude Code (npm install -g @anthropic-ai/claude-code) or set “Baton › Agent: Command” to where it is`;
}

/**
 * The question a new goal asks when it would put the board aside: the daemon
 * archives a board with finished work when the goal changes. Undefined when nothing
 * would be put aside.
 */
export function newGoalQuestion(current: string, next: string, tasks: readonly Task[], discoveries: number): string | undefined {
  if (next.trim() === current.trim() || !tasks.some((task) => isFinished(task.status))) {
    return undefined;
  }
  const what = `${plural(tasks.length, 'task')} and ${plural(discoveries, 'discovery', 'discoveries')}`;
  return `A new goal starts an empty board: the ${what} of “${oneLine(current, 60)}” are put aside in the workspace's history, and Load State brings them back. Or keep them under the new goal.`;
}

/**
 * The question Load State asks before it replaces anything, or undefined when there
 * is nothing to lose.
 */
export function loadStateQuestion(tasks: number, discoveries: number, file: string): string | undefined {
  if (tasks === 0 && discoveries === 0) {
    return undefined;
  }
  return `Replace the ${plural(tasks, 'task')} and ${plural(discoveries, 'discovery', 'discoveries')} of this workspace with those of ${file}? The goal and the workspace's settings are replaced too; the board there is now is put aside in the workspace's history.`;
}

/** The buttons of a finished run's notification: its report first, when it has one. */
export function runFinishedActions(result: RunResult): string[] {
  return result.report ? ['Open Report', 'Show Status'] : ['Show Status'];
}

export function runFinishedMessage(result: RunResult): string {
  const parts = [`${result.tasks_completed} done`, `${result.tasks_failed} failed`];
  if (result.tasks_cancelled) {
    parts.push(`${result.tasks_cancelled} cancelled`);
  }
  if (result.discoveries > 0) {
    parts.push(plural(result.discoveries, 'discovery', 'discoveries'));
  }
  parts.push(formatCost(result.cost_usd));
  const summary = result.summary.trim() ? ` — ${oneLine(result.summary, 300)}` : '';
  return `Baton: run finished: ${parts.join(', ')}${summary}`;
}

/** One line of the agent activity output channel. */
export function activityLine(agent: string, task: string | null, kind: string, text: string): string {
  const where = task ? ` (${task})` : '';
  // A kind this version does not know is shown as its text, as the protocol asks.
  const what =
    kind === ActivityKind.tool
      ? `uses ${text}`
      : kind === ActivityKind.started || kind === ActivityKind.finished
        ? kind
        : oneLine(text, 300) || kind;
  return `${agent}${where}: ${what}`;
}

/** What the daemon's crash notice means to the user. */
export function crashMessage(crash: Crash): string {
  const resumed = crash.run_resumed ? '; the run that was going was resumed' : '';
  return `Baton: the daemon stopped unexpectedly (last seen working at ${localTime(crash.stopped_at)}) and was started again${resumed}`;
}
