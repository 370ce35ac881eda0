import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Store } from '../../src/model/store';
import { discovery, status, task } from './fixtures';

test('a fetch replaces the mirror, and notifications keep it current', () => {
  const store = new Store();
  let changes = 0;
  store.onChange(() => changes++);
  store.reset({ status: status(), tasks: [task({ id: 'task-001' })], discoveries: [] });
  assert.equal(store.loaded, true);
  assert.equal(store.applyNotification('baton/taskCreated', task({ id: 'task-002' })), 'applied');
  assert.equal(
    store.applyNotification('baton/taskUpdated', task({ id: 'task-001', status: 'claimed', claimed_by: 'worker-1' })),
    'applied',
  );
  assert.equal(store.applyNotification('baton/discovery', discovery()), 'applied');
  assert.deepEqual(
    store.tasks.map((t) => [t.id, t.status]),
    [
      ['task-001', 'claimed'],
      ['task-002', 'available'],
    ],
  );
  assert.equal(store.discoveries.length, 1);
  assert.deepEqual(store.counts(), { available: 1, claimed: 1, in_progress: 0, done: 0, failed: 0, cancelled: 0 });
  assert.equal(changes, 4);
});

test('a state change asks for a fetch, an unknown notification is ignored', () => {
  const store = new Store();
  assert.equal(store.applyNotification('baton/stateChanged', { reason: 'load' }), 'refetch');
  assert.equal(store.applyNotification('baton/somethingNew', {}), 'ignored');
});

test('a run is active from its start to its end, by notification or by progress', () => {
  const store = new Store();
  store.reset({ status: status(), tasks: [], discoveries: [] });
  store.applyNotification('baton/runStarted', { mode: 'predefined', goal: 'g' });
  assert.equal(store.runActive, true);
  store.progress({ kind: 'report', message: '1/2 done, 1 agent', percentage: 50 });
  assert.deepEqual(store.runProgress, { title: undefined, message: '1/2 done, 1 agent', percentage: 50 });
  const finished = { goal: 'g', tasks_completed: 2, tasks_failed: 0, discoveries: 0, summary: 'ok', cost_usd: 0.02 };
  store.applyNotification('baton/runFinished', finished);
  assert.equal(store.runActive, false);
  assert.equal(store.runProgress, undefined);
  assert.deepEqual(store.lastRun, finished);
  store.progress({ kind: 'begin', title: 'baton run', percentage: 0 });
  assert.equal(store.runActive, true);
  store.progress({ kind: 'end', message: '2 done, 0 failed' });
  assert.equal(store.runActive, false);
});

test('a fetch during a run keeps the run active', () => {
  const store = new Store();
  store.reset({
    status: status({
      run: { mode: 'leader', started_at: '2026-11-30T02:45:57Z', cost_usd: 0, paused_until: null, stopped: null },
      agents: [{ id: 'leader', task: null, since: null, activity: null, cost_usd: 0 }],
    }),
    tasks: [],
    discoveries: [],
  });
  assert.equal(store.runActive, true);
  assert.deepEqual(store.busyAgents(), ['leader']);
});

test('busy agents: started and not finished, or holding a task', () => {
  const store = new Store();
  store.reset({ status: status(), tasks: [], discoveries: [] });
  store.applyNotification('baton/agentActivity', { agent_id: 'leader', task_id: null, kind: 'started', text: '' });
  store.applyNotification('baton/taskUpdated', task({ id: 'task-001', status: 'claimed', claimed_by: 'outside' }));
  assert.deepEqual(store.busyAgents(), ['leader', 'outside']);
  store.applyNotification('baton/agentActivity', { agent_id: 'leader', task_id: null, kind: 'finished', text: '' });
  store.applyNotification('baton/taskCompleted', task({ id: 'task-001', status: 'done', claimed_by: 'outside' }));
  assert.deepEqual(store.busyAgents(), []);
});

test('a deleted task leaves the mirror', () => {
  const store = new Store();
  store.reset({ status: status(), tasks: [task({ id: 'task-001' }), task({ id: 'task-002' })], discoveries: [] });
  assert.equal(store.applyNotification('baton/taskDeleted', task({ id: 'task-001' })), 'applied');
  assert.deepEqual(
    store.tasks.map((t) => t.id),
    ['task-002'],
  );
});

test('while the leader plans with no task yet, the mirror says so; a lost daemon makes it stale', () => {
  const store = new Store();
  store.reset({ status: status(), tasks: [], discoveries: [] });
  store.applyNotification('baton/runStarted', { mode: 'leader', goal: 'Greet' });
  assert.equal(store.planning, true);
  store.applyNotification('baton/taskCreated', task({ id: 'task-001' }));
  assert.equal(store.planning, false);
  store.reset({ status: status(), tasks: [], discoveries: [] });
  store.applyNotification('baton/runStarted', { mode: 'plan', goal: 'Greet' });
  assert.equal(store.planning, true, 'a plan-only run plans too');
  store.setStale(true);
  assert.equal(store.stale, true);
  store.reset({ status: status(), tasks: [], discoveries: [] });
  assert.equal(store.stale, false, 'a fresh fetch is current again');
});

test("the run's phase is the daemon's word, else planning while the leader has added nothing", () => {
  const store = new Store();
  store.reset({ status: status(), tasks: [], discoveries: [] });
  assert.equal(store.runPhase, undefined);
  store.applyNotification('baton/runStarted', { mode: 'leader', goal: 'Greet' });
  assert.equal(store.runPhase, 'planning');
  const run = { mode: 'leader' as const, phase: 'summarising' as const, started_at: '2026-12-01T22:00:00Z', cost_usd: 0, paused_until: null, stopped: null };
  store.reset({ status: status({ run }), tasks: [task({ id: 'task-001', status: 'done' })], discoveries: [] });
  assert.equal(store.runPhase, 'summarising');
});
