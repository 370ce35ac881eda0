/** What the status bar item says: pure, so that it is tested without an editor. */

import { ByStatus, RunPhase } from './protocol';
import { plural } from './format';

export type ConnectionState =
  /** No daemon is known for this workspace yet (nothing has been asked of baton). */
  | 'absent'
  | 'connecting'
  | 'connected'
  /** The daemon went away; the extension waits for it and reconnects. */
  | 'disconnected';

export interface StatusView {
  connection: ConnectionState;
  /** Why the last connection attempt failed, when it did. */
  error?: string;
  /** The `baton` CLI the daemon was started with. */
  cli?: string;
  runActive: boolean;
  /** What the run is doing, when the daemon says (or the leader plans with no task yet). */
  phase?: RunPhase;
  counts: ByStatus;
  busyAgents: string[];
  /** The run's percentage, from `$/progress`. */
  percentage?: number;
  /**
   * The run's progress line, from `$/progress`: the daemon counts the run's own tasks
   * (`0/1 done, 1 agent` for a one-task run on a board with earlier work), so it is
   * shown while a run goes rather than the board's counts.
   */
  progressMessage?: string;
  goal?: string;
}

export interface StatusBarText {
  text: string;
  tooltip: string;
}

/** `2/5 done, 1 failed`: done over all tasks; the failed (and cancelled) when any. */
export function progressLine(counts: ByStatus): string {
  const total =
    counts.available + counts.claimed + counts.in_progress + counts.done + counts.failed + counts.cancelled;
  let line = `${counts.done}/${total} done`;
  if (counts.failed > 0) {
    line += `, ${counts.failed} failed`;
  }
  if (counts.cancelled > 0) {
    line += `, ${counts.cancelled} cancelled`;
  }
  return line;
}

export function statusBarText(view: StatusView): StatusBarText {
  switch (view.connection) {
    case 'absent':
      return view.error
        ? { text: '$(error) Baton', tooltip: `${view.error}\n\nClick to try again.` }
        : {
            text: '$(organization) Baton',
            tooltip: 'baton is not started in this workspace. Run “Baton: Initialize Goal” to begin',
          };
    case 'connecting':
      return { text: '$(sync~spin) Baton: connecting…', tooltip: 'Starting or reaching the workspace daemon' };
    case 'disconnected':
      return {
        text: '$(debug-disconnect) Baton: disconnected',
        tooltip:
          (view.error ? `${view.error}\n\n` : 'The workspace daemon went away. ') +
          'Reconnecting when it is back; any Baton command starts it again. Click for status.',
      };
    case 'connected':
      break;
  }
  const total = Object.values(view.counts).reduce((sum, n) => sum + n, 0);
  const agents = view.busyAgents.length;
  const lines: string[] = [];
  if (view.goal) {
    lines.push(`Goal: ${view.goal}`);
  }
  if (view.runActive) {
    const text =
      view.phase === 'planning'
        ? '$(sync~spin) Baton: planning…'
        : view.phase === 'summarising'
          ? view.progressMessage
            ? '$(sync~spin) Baton: summing up…'
            : `$(sync~spin) Baton: summing up · ${progressLine(view.counts)}`
          : `$(sync~spin) Baton: ${view.progressMessage ?? `${progressLine(view.counts)}, ${plural(agents, 'agent')}`}`;
    if (view.phase === 'planning') {
      lines.push('The leader is planning the goal into tasks');
    } else if (view.phase === 'summarising') {
      lines.push('Every task has ended; the run is being summed up');
    }
    lines.push(`Running${view.percentage !== undefined ? ` — ${view.percentage}% finished` : ''}`);
    if (view.progressMessage) {
      lines.push(`Daemon: ${view.progressMessage}`);
    }
    if (agents > 0) {
      lines.push(`Agents at work: ${view.busyAgents.join(', ')}`);
    }
    lines.push(...cliLine(view), 'Click for status.');
    return { text, tooltip: lines.join('\n') };
  }
  const icon = view.counts.failed > 0 ? '$(warning)' : '$(check)';
  let text = total === 0 ? `${icon} Baton: idle` : `${icon} Baton: idle · ${progressLine(view.counts)}`;
  if (agents > 0) {
    text += `, ${plural(agents, 'agent')}`;
  }
  lines.push(total === 0 ? 'Idle: no tasks yet' : `Idle: ${plural(total, 'task')}`);
  if (agents > 0) {
    lines.push(`Holding tasks: ${view.busyAgents.join(', ')}`);
  }
  lines.push(...cliLine(view), 'Click for status.');
  return { text, tooltip: lines.join('\n') };
}

function cliLine(view: StatusView): string[] {
  return view.cli ? [`baton: ${view.cli}`] : [];
}

/** What the Tasks view says above its tasks: the leader at work, or that it may be out of date. */
export function tasksViewMessage(state: { planning: boolean; stale: boolean; status?: { goal: string } }): string | undefined {
  if (state.stale) {
    return 'The daemon is not running: what is shown may be out of date. It is started again by any Baton command.';
  }
  if (state.planning) {
    const goal = state.status?.goal.trim();
    return goal ? `The leader is planning “${goal}”…` : 'The leader is planning…';
  }
  return undefined;
}
