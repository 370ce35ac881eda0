/**
 * The run on a timeline: a lane per agent (the leader, worker-1..N, reviewers, the
 * summary), a bar per agent run coloured by how it ended, and each lane's idle gaps
 * (the time of the run it spent without an agent running), from `baton/timeline` and
 * the `baton/attempt` notifications. Plain data, no editor API: the timeline panel
 * draws it, and it is tested alone.
 */

import { formatCost, formatDuration } from '../model/format';
import { AgentKind, AttemptOutcome, AttemptRecord, Timeline } from '../model/protocol';

export interface TimelineBar {
  id: number;
  /** Milliseconds from the run's start. */
  start: number;
  end: number;
  /** Still running: its end is now. */
  open: boolean;
  outcome: AttemptOutcome | null;
  /** The theme colour of how it ended, a CSS value. */
  accent: string;
  /** What the bar says: its task, else what the agent did. */
  label: string;
  /** The hover. */
  detail: string;
}

/** A time of the run when the lane's agent did not run. */
export interface IdleGap {
  start: number;
  end: number;
}

export interface TimelineLane {
  lane: string;
  kind: AgentKind;
  bars: TimelineBar[];
  gaps: IdleGap[];
  /** How much of the run its agents ran, from 0 to 1. */
  busy: number;
}

export interface TimelineView {
  run: number;
  runs: number;
  going: boolean;
  /** When the run's first agent started (ISO); none before any did. */
  startedAt: string | null;
  /** From the first start to the last end (or now, while agents run). */
  span: number;
  lanes: TimelineLane[];
  /** The most agents that ran at once. */
  peak: number;
}

const BY_OUTCOME: Record<AttemptOutcome, string> = {
  done: 'var(--vscode-charts-green)',
  requeued: 'var(--vscode-charts-yellow)',
  failed: 'var(--vscode-charts-red)',
  timed_out: 'var(--vscode-charts-red)',
  budget: 'var(--vscode-charts-orange)',
  lost: 'var(--vscode-charts-red)',
  stopped: 'var(--vscode-disabledForeground)',
  cancelled: 'var(--vscode-disabledForeground)',
};

/** The colour of how an agent run ended (running: the colour of work in progress). */
export function outcomeAccent(outcome: AttemptOutcome | null): string {
  return outcome === null ? 'var(--vscode-charts-blue)' : BY_OUTCOME[outcome];
}

const KIND_ORDER: Record<AgentKind, number> = { leader: 0, worker: 1, reviewer: 2, summary: 3 };

/** The leader first, then workers and reviewers by number, the summary last. */
export function compareLanes(a: { lane: string; kind: AgentKind }, b: { lane: string; kind: AgentKind }): number {
  const byKind = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (byKind !== 0) {
    return byKind;
  }
  const number = (lane: string) => Number(/(\d+)$/.exec(lane)?.[1] ?? 0);
  return number(a.lane) - number(b.lane) || a.lane.localeCompare(b.lane);
}

/** The view of the run `timeline` shows, its open agent runs ending `now`. */
export function timelineView(timeline: Timeline, now: Date): TimelineView {
  const records = timeline.attempts.filter((record) => record.run === timeline.run);
  const starts = records.map((record) => Date.parse(record.started_at));
  const origin = starts.length > 0 ? Math.min(...starts) : now.getTime();
  const endOf = (record: AttemptRecord) => (record.ended_at ? Date.parse(record.ended_at) : Math.max(now.getTime(), origin));
  const span = records.length > 0 ? Math.max(...records.map(endOf)) - origin : 0;
  const byLane = new Map<string, AttemptRecord[]>();
  for (const record of records) {
    byLane.set(record.lane, [...(byLane.get(record.lane) ?? []), record]);
  }
  const lanes = [...byLane.entries()].map(([lane, laneRecords]): TimelineLane => {
    const bars = laneRecords
      .map((record): TimelineBar => {
        const start = Date.parse(record.started_at) - origin;
        const end = Math.max(start, endOf(record) - origin);
        return {
          id: record.id,
          start,
          end,
          open: record.ended_at === null,
          outcome: record.outcome,
          accent: outcomeAccent(record.outcome),
          label: record.task ?? record.kind,
          detail: barDetail(record, end - start),
        };
      })
      .sort((a, b) => a.start - b.start);
    const gaps = idleGaps(bars, span);
    const idle = gaps.reduce((sum, gap) => sum + gap.end - gap.start, 0);
    return { lane, kind: laneRecords[0].kind, bars, gaps, busy: span > 0 ? 1 - idle / span : 0 };
  });
  lanes.sort(compareLanes);
  return {
    run: timeline.run,
    runs: timeline.runs,
    going: timeline.going,
    startedAt: records.length > 0 ? new Date(origin).toISOString() : null,
    span,
    lanes,
    peak: peakAgents(lanes.flatMap((lane) => lane.bars)),
  };
}

function barDetail(record: AttemptRecord, duration: number): string {
  const what = record.task ? `${record.task} (${record.kind})` : record.kind;
  const how = record.outcome ?? 'running';
  const reason = record.reason ? `: ${record.reason}` : '';
  return `${record.lane}: ${what}, ${how}${reason}, ${formatDuration(duration)}, ${formatCost(record.cost_usd)}`;
}

/** The times from 0 to `span` that no bar covers (bars may overlap after a restart). */
export function idleGaps(bars: readonly { start: number; end: number }[], span: number): IdleGap[] {
  const gaps: IdleGap[] = [];
  let covered = 0;
  for (const bar of [...bars].sort((a, b) => a.start - b.start)) {
    if (bar.start > covered) {
      gaps.push({ start: covered, end: bar.start });
    }
    covered = Math.max(covered, bar.end);
  }
  if (covered < span) {
    gaps.push({ start: covered, end: span });
  }
  return gaps;
}

/** The most bars running at the same moment (a bar ending as another starts does not count twice). */
export function peakAgents(bars: readonly { start: number; end: number }[]): number {
  const events = bars.flatMap((bar) => [
    { at: bar.start, change: 1 },
    { at: bar.end, change: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.change - b.change);
  let running = 0;
  let peak = 0;
  for (const event of events) {
    running += event.change;
    peak = Math.max(peak, running);
  }
  return peak;
}

/**
 * A `baton/attempt` notification applied: the record replaces the one with its id,
 * or is added; a record of a later run starts that run's timeline.
 */
export function applyAttempt(timeline: Timeline, record: AttemptRecord): Timeline {
  if (record.run > timeline.run) {
    return { run: record.run, runs: Math.max(timeline.runs, record.run), going: true, attempts: [record] };
  }
  if (record.run < timeline.run) {
    return timeline;
  }
  const attempts = timeline.attempts.filter((attempt) => attempt.id !== record.id);
  attempts.push(record);
  attempts.sort((a, b) => a.id - b.id);
  return { ...timeline, attempts };
}
