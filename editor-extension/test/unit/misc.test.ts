import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { batonCandidates, findWorkspaceRoot } from '../../src/model/workspace';
import { activityLine, errorMessage, runFinishedMessage, taskFailedMessage } from '../../src/model/messages';
import { runDefaults, Settings } from '../../src/model/settings';
import { formatCost, formatDuration } from '../../src/model/format';
import { result, task } from './fixtures';

test('the workspace is the nearest folder up with .baton or .git, as the CLI finds it', () => {
  const present = new Set(['/home/me/shop/.git']);
  const exists = (p: string) => present.has(p);
  assert.equal(findWorkspaceRoot('/home/me/shop/src/app', exists), '/home/me/shop');
  assert.equal(findWorkspaceRoot('/tmp/loose', exists), '/tmp/loose');
  present.add('/home/me/shop/src/.baton');
  assert.equal(findWorkspaceRoot('/home/me/shop/src/app', exists), '/home/me/shop/src');
});

test('baton is looked for in the setting, else the workspace build, else PATH', () => {
  assert.deepEqual(batonCandidates('/opt/baton/bin/baton', '/ws', '/usr/bin'), ['/opt/baton/bin/baton']);
  assert.deepEqual(batonCandidates('', '/ws', ['/usr/local/bin', '/usr/bin'].join(path.delimiter)), [
    '/ws/target/debug/baton',
    '/ws/target/release/baton',
    '/usr/local/bin/baton',
    '/usr/bin/baton',
  ]);
});

test("a daemon error is shown as its message, not its stack", () => {
  const error = Object.assign(new Error('task task-099 not found; `baton tasks` lists the ids'), {
    code: -32011,
    data: { kind: 'TaskNotFoundError' },
  });
  assert.equal(errorMessage(error), 'task task-099 not found; `baton tasks` lists the ids');
  assert.equal(errorMessage({ message: 'first line\n    at stack (file.js:1:1)' }), 'first line');
  assert.equal(errorMessage(undefined), 'something went wrong; the “Baton” output channel has details');
});

test('a failed task is announced, a cancelled one or a cascade is not', () => {
  assert.equal(
    taskFailedMessage(task({ id: 'task-002', status: 'failed', result: result({ error: 'tests fail' }) })),
    'Baton: task-002 failed: tests fail',
  );
  assert.equal(taskFailedMessage(task({ id: 'task-003', status: 'cancelled' })), undefined);
  assert.equal(
    taskFailedMessage(task({ id: 'task-004', status: 'failed', failed_dependency: 'task-002' })),
    undefined,
  );
});

test('the end of a run is announced with its result and summary', () => {
  assert.equal(
    runFinishedMessage({ goal: 'g', tasks_completed: 3, tasks_failed: 1, discoveries: 2, summary: 'Added the table.', cost_usd: 1.84 }),
    'Baton: run finished: 3 done, 1 failed, 2 discoveries, $1.84 — Added the table.',
  );
});

test('agent activity reads as a line', () => {
  assert.equal(activityLine('worker-1', 'task-001', 'tool', 'Edit'), 'worker-1 (task-001): uses Edit');
  assert.equal(activityLine('leader', null, 'text', 'Planning\nthe work'), 'leader: Planning the work');
  assert.equal(activityLine('worker-2', 'task-002', 'finished', ''), 'worker-2 (task-002): finished');
});

test('run defaults: only what is set is applied', () => {
  const settings: Settings = {
    cliPath: '',
    daemonPath: '',
    maxWorkers: 0,
    model: '',
    taskTimeout: 0,
    notifyOnRunFinished: true,
    notifyOnTaskFailure: true,
  };
  assert.equal(runDefaults(settings), undefined);
  assert.deepEqual(runDefaults({ ...settings, maxWorkers: 2, model: ' claude-opus ', taskTimeout: 90 }), {
    max_workers: 2,
    model: 'claude-opus',
    task_timeout: 90,
  });
});

test('durations and costs read short', () => {
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(12_400), '12s');
  assert.equal(formatDuration(185_000), '3m 05s');
  assert.equal(formatDuration(3_720_000), '1h 02m');
  assert.equal(formatCost(0), '$0.00');
  assert.equal(formatCost(0.0042), '$0.0042');
  assert.equal(formatCost(1.844), '$1.84');
});
