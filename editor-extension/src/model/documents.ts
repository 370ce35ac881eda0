/**
 * The text of the read-only documents the extension opens: the status report
 * (“Baton: Show Status”) and a task's agent log (“Baton: Show Task Log”).
 */

import { Config, DaemonInfo, RunResult, Status, Task } from './protocol';
import { formatCost, formatDuration, localTime, plural, statusLabel, taskDurationMs, taskError } from './format';

export interface StatusReportInput {
  status: Status;
  tasks: readonly Task[];
  config?: Config;
  daemon?: DaemonInfo;
  lastRun?: RunResult;
  now: Date;
}

export function renderStatusReport(input: StatusReportInput): string {
  const { status, tasks, config, daemon, lastRun, now } = input;
  const out: string[] = [];
  out.push('# baton status', '');
  out.push(`Goal:      ${status.goal || '(none — run “Baton: Initialize Goal”)'}`);
  const by = status.progress.by_status;
  const total = status.progress.total_tasks;
  const percent = total === 0 ? 0 : Math.round((by.done / total) * 100);
  out.push(`Progress:  ${by.done}/${total} done (${percent}%)`);
  out.push(
    `Tasks:     ${by.available} available, ${by.claimed} claimed, ${by.in_progress} in progress, ` +
      `${by.done} done, ${by.failed} failed, ${by.cancelled} cancelled`,
  );
  if (status.run) {
    const run = status.run;
    out.push(`Run:       ${run.mode}, started ${localTime(run.started_at)}, ${formatCost(run.cost_usd)} so far`);
    if (run.paused_until) {
      out.push(`           paused until ${localTime(run.paused_until)} (rate limit)`);
    }
    if (run.stopped) {
      out.push(`           dispatch stopped: ${run.stopped}`);
    }
    for (const claim of run.waiting_for ?? []) {
      const back = claim.returns_at ? `back in the queue at ${localTime(claim.returns_at)} unless finished first` : 'held until finished';
      out.push(`           waiting for ${claim.task_id}, claimed by ${claim.agent_id} outside this run: ${back}`);
    }
  } else {
    out.push(`Run:       none${status.running ? ' (dispatch is on)' : ''}`);
  }
  out.push(`Cost:      ${formatCost(status.cost_usd)} over all runs`);
  if (status.last_activity) {
    out.push(`Activity:  last at ${localTime(status.last_activity)}`);
  }
  if (status.master_plan.trim()) {
    out.push('', '## Master plan', '', status.master_plan.trim());
  }
  out.push('', '## Agents', '');
  if (status.agents.length === 0) {
    out.push('No agent holds a task.');
  }
  for (const agent of status.agents) {
    const parts = [agent.id, agent.task ?? '(no task)'];
    if (agent.since) {
      parts.push(`since ${localTime(agent.since)}`);
    }
    if (agent.cost_usd > 0) {
      parts.push(formatCost(agent.cost_usd));
    }
    if (agent.activity) {
      parts.push(`— ${agent.activity}`);
    }
    out.push(`- ${parts.join('  ')}`);
  }
  out.push('', '## Tasks', '');
  if (tasks.length === 0) {
    out.push('No tasks yet.');
  }
  for (const task of tasks) {
    const duration = taskDurationMs(task, now);
    const extra = [`P${task.priority}`];
    if (task.dependencies.length > 0) {
      extra.push(`after ${task.dependencies.join(', ')}`);
    }
    if (task.claimed_by) {
      extra.push(task.claimed_by);
    }
    if (duration !== undefined) {
      extra.push(formatDuration(duration));
    }
    if (task.usage.cost_usd > 0) {
      extra.push(formatCost(task.usage.cost_usd));
    }
    if (task.context.parent_task) {
      extra.push(`split off ${task.context.parent_task}`);
    }
    out.push(`- ${task.id} [${statusLabel(task.status)}] ${task.description}  (${extra.join(', ')})`);
    const error = taskError(task);
    if (error) {
      out.push(`    error: ${error}`);
    }
  }
  if (status.discoveries.length > 0) {
    out.push('', '## Recent discoveries', '');
    for (const discovery of status.discoveries) {
      const where = discovery.related_task ? ` (${discovery.related_task})` : '';
      out.push(`- ${discovery.agent_id}${where}: ${discovery.content}`);
    }
  }
  if (lastRun) {
    out.push('', '## Last run', '');
    out.push(
      `${plural(lastRun.tasks_completed, 'task')} done, ${lastRun.tasks_failed} failed, ` +
        `${plural(lastRun.discoveries, 'discovery', 'discoveries')}, ${formatCost(lastRun.cost_usd)}`,
    );
    if (lastRun.summary) {
      out.push('', lastRun.summary);
    }
  }
  if (config) {
    out.push('', '## Configuration', '');
    out.push(`max_workers:   ${config.max_workers}`);
    out.push(`model:         ${config.model}`);
    out.push(`task_timeout:  ${config.task_timeout} s`);
    out.push(`max_attempts:  ${config.max_attempts}`);
    out.push(`budgets:       task ${budget(config.task_budget_usd)}, run ${budget(config.run_budget_usd)}`);
    out.push(`agent_command: ${[config.agent_command, ...config.agent_args].join(' ')}`);
    out.push(`isolation:     ${config.isolation ?? 'default (worktree in a git repository, else shared)'}`);
    if (config.verify_command) {
      out.push(`verify:        ${config.verify_command} (up to ${config.max_verify_attempts ?? 2} attempts)`);
    }
  }
  if (daemon) {
    out.push('', '## Daemon', '');
    out.push(`batond ${daemon.version}, pid ${daemon.pid}`);
    out.push(`workspace: ${daemon.workspace}`);
    out.push(`socket:    ${daemon.socket}`);
    out.push(`log:       ${daemon.log_file}`);
  }
  return out.join('\n') + '\n';
}

function budget(usd: number | null): string {
  return usd === null ? 'none' : formatCost(usd);
}

/**
 * A task's agent log (Claude Code's stream-json, one event a line) as a readable
 * transcript. Lines that are not JSON are kept as they are.
 */
/** How a check that did not pass ended, when it neither passed nor failed. */
const VERIFY_ENDINGS: Record<string, string> = {
  stopped: 'verification stopped',
  timed_out: 'verification timed out',
  not_run: 'verification could not run',
};

export function renderTaskLog(taskId: string, log: string): string {
  const out: string[] = [`# Agent log of ${taskId}`, ''];
  if (log.trim() === '') {
    out.push('(empty: no agent has worked on this task yet)');
  }
  for (const line of log.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    out.push(...renderEvent(line));
  }
  return out.join('\n') + '\n';
}

function renderEvent(line: string): string[] {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return [line];
  }
  if (typeof event !== 'object' || event === null) {
    return [line];
  }
  const e = event as Record<string, unknown>;
  const type = String(e.type ?? '');
  switch (type) {
    case 'system':
      if (e.subtype === 'init') {
        const model = typeof e.model === 'string' ? `, model ${e.model}` : '';
        return ['', `── session ${String(e.session_id ?? '?')}${model} ──`];
      }
      return [`[system] ${String(e.subtype ?? '')}`];
    case 'assistant':
    case 'user':
      return messageLines(type, e.message);
    case 'result': {
      const ok = e.is_error === true ? 'error' : String(e.subtype ?? 'result');
      const spent = processCost(e);
      const cost = spent === undefined ? '' : `, ${formatCost(spent)}`;
      const turns = typeof e.num_turns === 'number' ? `, ${plural(e.num_turns, 'turn')}` : '';
      const duration = typeof e.duration_ms === 'number' ? `, ${formatDuration(e.duration_ms)}` : '';
      const lines = [`[result: ${ok}${cost}${turns}${duration}]`];
      if (typeof e.result === 'string' && e.result) {
        lines.push(indent(e.result));
      }
      return lines;
    }
    case 'stream_event':
      // A turn's start and end, kept for its cost: the transcript is in the messages.
      return [];
    case 'baton':
      // What baton says of an attempt: merged, not merged, sent back, stopped, …
      return [`[baton] ${String(e.subtype ?? '').replace(/_/g, ' ')}: ${String(e.text ?? '')}`];
    case 'baton_verify': {
      const ended = typeof e.outcome === 'string' ? VERIFY_ENDINGS[e.outcome] : undefined;
      const verdict = e.passed === true
        ? 'verified'
        : ended ?? (typeof e.status === 'number' ? `verification failed (exit status ${e.status})` : 'verification failed');
      const lines = [`[baton] ${verdict}: ${String(e.command ?? '')}`];
      if (typeof e.output === 'string' && e.output.trim()) {
        lines.push(indent(e.output.trimEnd()));
      }
      return lines;
    }
    default:
      return [`[${type || 'event'}] ${line.length > 200 ? `${line.slice(0, 199)}…` : line}`];
  }
}

/**
 * What the process whose result this is spent: a resumed session's `total_cost_usd`
 * also counts its earlier processes, whose results said so already.
 */
function processCost(result: Record<string, unknown>): number | undefined {
  const models = result.model_usage_since_last_result;
  if (typeof models === 'object' && models !== null) {
    return Object.values(models).reduce<number>((sum, usage) => {
      const cost = (usage as Record<string, unknown> | null)?.costUSD;
      return typeof cost === 'number' ? sum + cost : sum;
    }, 0);
  }
  return typeof result.total_cost_usd === 'number' ? result.total_cost_usd : undefined;
}

function messageLines(role: string, message: unknown): string[] {
  if (typeof message !== 'object' || message === null) {
    return [];
  }
  const content = (message as Record<string, unknown>).content;
  if (typeof content === 'string') {
    return [`[${role}] ${content}`];
  }
  if (!Array.isArray(content)) {
    return [];
  }
  const lines: string[] = [];
  for (const block of content) {
    if (typeof block !== 'object' || block === null) {
      continue;
    }
    const b = block as Record<string, unknown>;
    switch (b.type) {
      case 'text':
        lines.push(`[${role}] ${String(b.text ?? '')}`);
        break;
      case 'tool_use': {
        const input = b.input === undefined ? '' : ` ${truncate(JSON.stringify(b.input), 160)}`;
        lines.push(`[tool] ${String(b.name ?? '?')}${input}`);
        break;
      }
      case 'tool_result': {
        const text = typeof b.content === 'string' ? b.content : JSON.stringify(b.content ?? '');
        lines.push(`[tool result${b.is_error === true ? ', error' : ''}] ${truncate(text.replace(/\s+/g, ' '), 160)}`);
        break;
      }
      case 'thinking':
        break;
      default:
        lines.push(`[${role}: ${String(b.type)}]`);
    }
  }
  return lines;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}
