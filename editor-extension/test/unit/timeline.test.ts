/** The run on a timeline: lanes, bars, idle gaps, the peak of agents at once, live records. */

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AttemptRecord, Timeline } from '../../src/model/protocol';
import { applyAttempt, compareLanes, idleGaps, outcomeAccent, peakAgents, timelineView } from '../../src/timeline/model';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function record(overrides: Partial<AttemptRecord> & { id: number; lane: string }): AttemptRecord {
  return {
    run: 1,
    kind: 'worker',
    started_at: at(0),
    ended_at: at(10),
    outcome: 'done',
    cost_usd: 0.01,
    ...overrides,
  };
}

/** The leader plans for 10 s, two workers work in parallel, the summary closes. */
function run(): Timeline {
  return {
    run: 1,
    runs: 1,
    going: false,
    attempts: [
      record({ id: 0, lane: 'leader', kind: 'leader', started_at: at(0), ended_at: at(10) }),
      record({ id: 1, lane: 'worker-2', task: 'task-002', started_at: at(11), ended_at: at(20), outcome: 'failed', reason: 'tests fail' }),
      record({ id: 2, lane: 'worker-10', task: 'task-003', started_at: at(12), ended_at: at(18) }),
      record({ id: 3, lane: 'worker-2', task: 'task-002', started_at: at(22), ended_at: at(30) }),
      record({ id: 4, lane: 'summary', kind: 'summary', started_at: at(31), ended_at: at(34) }),
      record({ id: 5, run: 0, lane: 'worker-1', task: 'task-001', started_at: at(-100), ended_at: at(-90) }),
    ],
  };
}

test('a lane per agent: the leader first, workers by number, the summary last; only the run shown', () => {
  const view = timelineView(run(), new Date(T0 + 60_000));
  assert.deepEqual(
    view.lanes.map((lane) => lane.lane),
    ['leader', 'worker-2', 'worker-10', 'summary'],
  );
  assert.equal(view.span, 34_000);
  assert.equal(view.startedAt, at(0));
  assert.equal(compareLanes({ lane: 'reviewer-1', kind: 'reviewer' }, { lane: 'worker-9', kind: 'worker' }) > 0, true);
});

test('a bar per agent run, from the run’s start, coloured by how it ended, with its task and reason', () => {
  const worker = timelineView(run(), new Date(T0)).lanes[1];
  assert.deepEqual(
    worker.bars.map((bar) => [bar.start, bar.end, bar.outcome, bar.label]),
    [
      [11_000, 20_000, 'failed', 'task-002'],
      [22_000, 30_000, 'done', 'task-002'],
    ],
  );
  assert.equal(worker.bars[0].accent, 'var(--vscode-charts-red)');
  assert.equal(worker.bars[1].accent, 'var(--vscode-charts-green)');
  assert.match(worker.bars[0].detail, /worker-2: task-002 \(worker\), failed: tests fail, 9s, \$0\.01/);
  assert.notEqual(outcomeAccent(null), outcomeAccent('done'));
});

test('idle gaps: the time of the run a lane spent without an agent running', () => {
  const worker = timelineView(run(), new Date(T0)).lanes[1];
  assert.deepEqual(worker.gaps, [
    { start: 0, end: 11_000 },
    { start: 20_000, end: 22_000 },
    { start: 30_000, end: 34_000 },
  ]);
  assert.ok(Math.abs(worker.busy - 17 / 34) < 1e-9);
  assert.deepEqual(
    idleGaps(
      [
        { start: 0, end: 5 },
        { start: 3, end: 8 },
      ],
      8,
    ),
    [],
    'overlapping bars leave no gap',
  );
});

test('the peak of agents at once proves the work ran in parallel; one ending as another starts counts once', () => {
  assert.equal(timelineView(run(), new Date(T0)).peak, 2);
  assert.equal(
    peakAgents([
      { start: 0, end: 10 },
      { start: 10, end: 20 },
    ]),
    1,
  );
});

test('a running agent’s bar ends now; a record sent again at its end replaces it; a new run starts anew', () => {
  const going: Timeline = { run: 2, runs: 2, going: true, attempts: [record({ id: 7, run: 2, lane: 'worker-1', task: 'task-004', started_at: at(0), ended_at: null, outcome: null })] };
  const bar = timelineView(going, new Date(T0 + 5_000)).lanes[0].bars[0];
  assert.deepEqual([bar.open, bar.end, bar.outcome], [true, 5_000, null]);

  const ended = applyAttempt(going, record({ id: 7, run: 2, lane: 'worker-1', task: 'task-004', started_at: at(0), ended_at: at(4) }));
  assert.equal(ended.attempts.length, 1);
  assert.equal(timelineView(ended, new Date(T0 + 9_000)).lanes[0].bars[0].end, 4_000);

  const next = applyAttempt(ended, record({ id: 8, run: 3, lane: 'leader', kind: 'leader', ended_at: null, outcome: null }));
  assert.deepEqual([next.run, next.runs, next.going, next.attempts.length], [3, 3, true, 1]);
  assert.equal(applyAttempt(next, record({ id: 1, run: 1, lane: 'worker-1' })), next, 'an older run’s record changes nothing');

  const empty = timelineView({ run: 0, runs: 0, going: false, attempts: [] }, new Date(T0));
  assert.deepEqual([empty.lanes.length, empty.span, empty.startedAt, empty.peak], [0, 0, null, 0]);
});
