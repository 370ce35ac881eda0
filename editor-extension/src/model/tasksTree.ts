/**
 * The Tasks view as plain data: tasks grouped by status, each with its priority,
 * dependencies, agent, duration and cost, and its result below it. The view module
 * turns these nodes into tree items.
 */

import { isFinished, isHeld, Task, TaskStatus } from './protocol';
import { formatCost, formatDuration, oneLine, statusLabel, taskDurationMs, taskError } from './format';

export interface GroupNode {
  kind: 'group';
  status: TaskStatus;
  label: string;
  tasks: TaskNode[];
}

export interface TaskNode {
  kind: 'task';
  id: string;
  status: TaskStatus;
  /** `task-001 Design the users table` */
  label: string;
  /** The grey text: `P1 · after task-001 · worker-1 · 12s · $0.01` */
  description: string;
  /** Markdown. */
  tooltip: string;
  /**
   * For menus: `baton.task status:<status>` plus `cancellable`, `editable`,
   * `deletable`, `retryable`, `files` and `log` flags, so that `viewItem =~ /\bretryable\b/` picks the right actions.
   */
  contextValue: string;
  /** Changed files (modified, then created), relative to the workspace. */
  files: string[];
  details: DetailNode[];
}

export interface DetailNode {
  kind: 'detail';
  label: string;
  description?: string;
  tooltip?: string;
  /** A file to open when clicked, relative to the workspace. */
  file?: string;
  /** A task to reveal when clicked. */
  task?: string;
  icon?: DetailIcon;
}

export type DetailIcon = 'output' | 'error' | 'file-modified' | 'file-created' | 'dependency' | 'discovery' | 'subtask' | 'hint' | 'context';

/** The order of the groups: what needs attention first. */
export const GROUP_ORDER: readonly TaskStatus[] = ['in_progress', 'claimed', 'available', 'failed', 'cancelled', 'done'];

const GROUP_LABELS: Record<TaskStatus, string> = {
  in_progress: 'In progress',
  claimed: 'Claimed',
  available: 'Available',
  failed: 'Failed',
  cancelled: 'Cancelled',
  done: 'Done',
};

/** Groups with at least one task, in `GROUP_ORDER`; tasks by priority, then id. */
export function buildTaskTree(tasks: readonly Task[], now: Date): GroupNode[] {
  const groups: GroupNode[] = [];
  for (const status of GROUP_ORDER) {
    const members = tasks.filter((task) => task.status === status);
    if (members.length === 0) {
      continue;
    }
    members.sort((a, b) => a.priority - b.priority || compareIds(a.id, b.id));
    groups.push({
      kind: 'group',
      status,
      label: `${GROUP_LABELS[status]} (${members.length})`,
      tasks: members.map((task) => taskNode(task, now)),
    });
  }
  return groups;
}

/** `task-2` before `task-10`; other ids by their text. */
export function compareIds(a: string, b: string): number {
  const na = /^task-(\d+)$/.exec(a);
  const nb = /^task-(\d+)$/.exec(b);
  if (na && nb) {
    return Number(na[1]) - Number(nb[1]);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export function taskNode(task: Task, now: Date): TaskNode {
  const duration = taskDurationMs(task, now);
  const cost = task.usage?.cost_usd ?? 0;
  const parts = [`P${task.priority}`];
  if (task.dependencies.length > 0) {
    parts.push(`after ${task.dependencies.join(', ')}`);
  }
  if (task.claimed_by) {
    parts.push(task.claimed_by);
  }
  // Working is what a held task does anyway; the later stages are worth a word.
  if (task.stage && task.stage !== 'working' && isHeld(task.status)) {
    parts.push(task.stage);
  }
  if (duration !== undefined) {
    parts.push(formatDuration(duration));
  }
  if (cost > 0) {
    parts.push(formatCost(cost));
  }
  const files = changedFiles(task);
  const flags = [`status:${task.status}`];
  if (!isFinished(task.status)) {
    flags.push('cancellable', 'editable');
  }
  if (task.status === 'available' && task.attempts === 0) {
    flags.push('deletable');
  }
  if (task.status === 'failed' || task.status === 'cancelled') {
    flags.push('retryable');
  }
  if (files.length > 0) {
    flags.push('files');
  }
  if (task.attempts > 0) {
    flags.push('log');
  }
  return {
    kind: 'task',
    id: task.id,
    status: task.status,
    label: `${task.id} ${firstLine(task.description)}`,
    description: parts.join(' · '),
    tooltip: taskTooltip(task, duration),
    contextValue: `baton.task ${flags.join(' ')}`,
    files,
    details: taskDetails(task),
  };
}

/** The most characters of a description's first line a label takes. */
const LINE_CHARS = 500;

/**
 * The first line of a description: the view cuts it where the sidebar ends, not at
 * a fixed length, and the hover has the rest. Past 500 characters, more than any
 * sidebar shows, it is cut here: a description can be a megabyte on one line.
 */
export function firstLine(text: string): string {
  const line = (text.split('\n').find((candidate) => candidate.trim() !== '') ?? '').trim();
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}…` : line;
}

/** The files a task changed, modified first, without repeats. */
export function changedFiles(task: Task): string[] {
  const result = task.result;
  if (!result) {
    return [];
  }
  return [...new Set([...(result.files_modified ?? []), ...(result.files_created ?? [])])];
}

function taskDetails(task: Task): DetailNode[] {
  const details: DetailNode[] = [];
  const result = task.result;
  const error = taskError(task);
  if (error) {
    details.push({ kind: 'detail', label: oneLine(error), tooltip: error, icon: 'error' });
  }
  if (result?.output) {
    details.push({ kind: 'detail', label: oneLine(result.output), tooltip: result.output, icon: 'output' });
  }
  for (const file of result?.files_modified ?? []) {
    details.push({ kind: 'detail', label: file, description: 'modified', file, icon: 'file-modified' });
  }
  for (const file of result?.files_created ?? []) {
    details.push({ kind: 'detail', label: file, description: 'created', file, icon: 'file-created' });
  }
  for (const dependency of task.dependencies) {
    details.push({ kind: 'detail', label: dependency, description: 'dependency', task: dependency, icon: 'dependency' });
  }
  for (const subtask of result?.subtasks_created ?? []) {
    details.push({ kind: 'detail', label: subtask, description: 'subtask', task: subtask, icon: 'subtask' });
  }
  for (const discovery of result?.discoveries ?? []) {
    details.push({ kind: 'detail', label: oneLine(discovery), description: 'discovery', tooltip: discovery, icon: 'discovery' });
  }
  for (const file of task.context.files) {
    details.push({ kind: 'detail', label: file, description: 'context', file, icon: 'context' });
  }
  if (task.context.hints) {
    details.push({ kind: 'detail', label: oneLine(task.context.hints), description: 'hint', tooltip: task.context.hints, icon: 'hint' });
  }
  return details;
}

function taskTooltip(task: Task, duration: number | undefined): string {
  const lines = [`**${task.id}** — ${statusLabel(task.status)}`, '', escapeMarkdown(task.description), ''];
  lines.push(`- Priority: ${task.priority}`);
  if (task.dependencies.length > 0) {
    lines.push(`- Depends on: ${task.dependencies.join(', ')}`);
  }
  if (task.failed_dependency) {
    lines.push(`- Failed because ${task.failed_dependency} did not finish`);
  }
  if (task.context.parent_task) {
    lines.push(`- Split off ${task.context.parent_task}`);
  }
  if (task.claimed_by) {
    lines.push(`- Agent: ${escapeMarkdown(task.claimed_by)}`);
  }
  if (task.stage && isHeld(task.status)) {
    lines.push(`- Stage: ${task.stage}`);
  }
  if (task.model) {
    lines.push(`- Model: ${escapeMarkdown(task.model)}`);
  }
  if (task.attempts > 0) {
    lines.push(`- Attempts: ${task.attempts}`);
  }
  if (duration !== undefined) {
    lines.push(`- Duration: ${formatDuration(duration)}`);
  }
  const usage = task.usage;
  if (usage && (usage.cost_usd > 0 || usage.turns > 0)) {
    lines.push(
      `- Cost: ${formatCost(usage.cost_usd)} (${usage.turns} turns, ${usage.input_tokens} in / ${usage.output_tokens} out tokens)`,
    );
  }
  const error = taskError(task);
  if (error) {
    lines.push('', `Error: ${escapeMarkdown(error)}`);
  }
  if (task.result?.output) {
    lines.push('', escapeMarkdown(oneLine(task.result.output, 400)));
  }
  return lines.join('\n');
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-!<>|])/g, '\\$1');
}
