/** Small formatting helpers shared by the views, the status bar and the documents. */

import { Task } from './protocol';

/** `850ms`, `12s`, `3m 05s`, `1h 02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)}ms`;
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) {
    return `${seconds}s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** `$0.00`, `$0.0123` for small amounts, `$1.84`. */
export function formatCost(usd: number): string {
  if (!Number.isFinite(usd)) {
    return '';
  }
  if (usd > 0 && usd < 0.01) {
    return `$${usd.toFixed(4)}`;
  }
  return `$${usd.toFixed(2)}`;
}

/**
 * How long the task has been worked on: from its claim to its end, or to `now` while
 * it is held. Undefined when it was never claimed.
 */
export function taskDurationMs(task: Task, now: Date): number | undefined {
  if (task.claimed_at === null) {
    return undefined;
  }
  const start = Date.parse(task.claimed_at);
  const end = task.completed_at !== null ? Date.parse(task.completed_at) : now.getTime();
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) {
    return undefined;
  }
  return end - start;
}

/** The status as people say it. */
export function statusLabel(status: string): string {
  switch (status) {
    case 'in_progress':
      return 'in progress';
    default:
      return status;
  }
}

/** One line of at most `max` characters (newlines folded, an ellipsis when cut). */
export function oneLine(text: string, max = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `1 task`, `2 tasks`; `2 discoveries` with the plural given. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/**
 * Why a task failed or was cancelled, when that says more than its status: a
 * cancelled task whose reason is only "cancelled" has none, so that the word
 * appears once.
 */
export function taskError(task: Task): string | undefined {
  const error = task.result?.error?.trim();
  if (!error || (task.status === 'cancelled' && error.toLowerCase() === 'cancelled')) {
    return undefined;
  }
  return error;
}

/** A timestamp of the daemon (UTC) as the user's clock shows it: `2026-11-30 14:05:09`. */
export function localTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}
