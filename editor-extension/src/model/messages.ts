/**
 * What the extension tells the user: error text and the notifications of a failed
 * task and a finished run.
 */

import { RunResult, Task } from './protocol';
import { formatCost, oneLine, plural } from './format';

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

export function runFinishedMessage(result: RunResult): string {
  const parts = [`${result.tasks_completed} done`, `${result.tasks_failed} failed`];
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
  const what = kind === 'tool' ? `uses ${text}` : kind === 'text' ? oneLine(text, 300) : kind;
  return `${agent}${where}: ${what}`;
}
