import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildTaskTree, changedFiles, compareIds, taskNode } from '../../src/model/tasksTree';
import { result, task } from './fixtures';

const now = new Date('2026-11-30T03:00:00Z');

test('tasks are grouped by status, what needs attention first, empty groups left out', () => {
  const tree = buildTaskTree(
    [
      task({ id: 'task-001', status: 'done' }),
      task({ id: 'task-002', status: 'in_progress', claimed_by: 'worker-1' }),
      task({ id: 'task-003', status: 'failed' }),
      task({ id: 'task-004', status: 'available' }),
      task({ id: 'task-005', status: 'done' }),
    ],
    now,
  );
  assert.deepEqual(
    tree.map((group) => group.label),
    ['In progress (1)', 'Available (1)', 'Failed (1)', 'Done (2)'],
  );
  assert.deepEqual(
    tree[3].tasks.map((node) => node.id),
    ['task-001', 'task-005'],
  );
});

test('within a group, tasks go by priority, then by id number', () => {
  const tree = buildTaskTree(
    [
      task({ id: 'task-10', priority: 2 }),
      task({ id: 'task-9', priority: 2 }),
      task({ id: 'task-11', priority: 1 }),
    ],
    now,
  );
  assert.deepEqual(
    tree[0].tasks.map((node) => node.id),
    ['task-11', 'task-9', 'task-10'],
  );
});

test('a task shows its priority, dependencies, agent, duration and cost', () => {
  const [group] = buildTaskTree(
    [
      task({
        id: 'task-002',
        description: 'Write the sign-up endpoint',
        status: 'done',
        priority: 2,
        dependencies: ['task-001'],
        claimed_by: 'worker-2',
        claimed_at: '2026-11-30T02:45:59.000000Z',
        completed_at: '2026-11-30T02:46:11.500000Z',
        attempts: 1,
        usage: { cost_usd: 0.0123, input_tokens: 10, output_tokens: 20, turns: 3, duration_ms: 11000 },
        result: result({ output: 'endpoint added', files_modified: ['src/app.ts'], files_created: ['src/signup.ts'] }),
      }),
    ],
    now,
  );
  const node = group.tasks[0];
  assert.equal(node.label, 'task-002 Write the sign-up endpoint');
  assert.equal(node.description, 'P2 · after task-001 · worker-2 · 12s · $0.01');
  assert.match(node.tooltip, /Cost: \$0\.01 \(3 turns/);
  assert.deepEqual(node.files, ['src/app.ts', 'src/signup.ts']);
  assert.deepEqual(
    node.details.map((detail) => [detail.label, detail.description ?? '']),
    [
      ['endpoint added', ''],
      ['src/app.ts', 'modified'],
      ['src/signup.ts', 'created'],
      ['task-001', 'dependency'],
    ],
  );
});

test('a running task counts its duration up to now', () => {
  const [group] = buildTaskTree(
    [task({ id: 'task-001', status: 'in_progress', claimed_by: 'worker-1', claimed_at: '2026-11-30T02:59:30Z' })],
    now,
  );
  assert.equal(group.tasks[0].description, 'P5 · worker-1 · 30s');
});

test('menus are offered by what a task allows', () => {
  const nodes = buildTaskTree(
    [
      task({ id: 'task-001', status: 'available' }),
      task({ id: 'task-002', status: 'failed', attempts: 1, result: result({ error: 'boom' }) }),
      task({ id: 'task-003', status: 'done', attempts: 1, result: result({ files_created: ['a.txt'] }) }),
      task({ id: 'task-004', status: 'in_progress', attempts: 1, claimed_by: 'worker-1' }),
    ],
    now,
  ).flatMap((group) => group.tasks);
  const flags = Object.fromEntries(nodes.map((node) => [node.id, node.contextValue]));
  assert.equal(flags['task-001'], 'baton.task status:available cancellable editable deletable');
  assert.equal(flags['task-004'], 'baton.task status:in_progress cancellable editable log');
  assert.equal(flags['task-002'], 'baton.task status:failed retryable log');
  assert.equal(flags['task-003'], 'baton.task status:done files log');
});

test('a failed task shows its error first', () => {
  const [group] = buildTaskTree(
    [task({ id: 'task-003', status: 'failed', failed_dependency: 'task-002', result: result({ error: 'dependency task-002 failed' }) })],
    now,
  );
  assert.equal(group.tasks[0].details[0].label, 'dependency task-002 failed');
  assert.equal(group.tasks[0].details[0].icon, 'error');
  assert.match(group.tasks[0].tooltip, /Failed because task-002 did not finish/);
});

test('changed files are listed once, modified first', () => {
  assert.deepEqual(changedFiles(task({ id: 't', result: result({ files_modified: ['a', 'b'], files_created: ['b', 'c'] }) })), [
    'a',
    'b',
    'c',
  ]);
  assert.deepEqual(changedFiles(task({ id: 't' })), []);
});

test('ids compare by number, other ids by text', () => {
  assert.ok(compareIds('task-2', 'task-10') < 0);
  assert.ok(compareIds('alpha', 'beta') < 0);
  assert.equal(compareIds('x', 'x'), 0);
});

test("a task's label is the whole first line of its description, the rest in the hover", () => {
  const long = `Rewrite the greeting module so that it ${'greets everyone in their own language, '.repeat(3)}politely\nThen add tests`;
  const node = taskNode(task({ id: 'task-007', description: long, context: { files: [], hints: '', parent_task: 'task-002' } }), new Date());
  assert.equal(node.label, `task-007 ${long.split('\n')[0]}`);
  assert.match(node.tooltip, /Then add tests/);
  assert.match(node.tooltip, /Split off task-002/);
});

test('a description of a megabyte on one line labels its task with its first 500 characters', () => {
  const long = 'Refactor the whole billing module carefully; '.repeat(22_000);
  const node = taskNode(task({ id: 'task-008', description: long }), new Date());
  assert.equal(node.label, `task-008 ${long.slice(0, 500)}…`);
});

test('a cancelled task says cancelled once, and its own reason when it has one', () => {
  const plain = taskNode(task({ id: 'task-004', status: 'cancelled', result: result({ error: 'cancelled' }) }), new Date());
  assert.equal(plain.details.length, 0);
  assert.equal(plain.tooltip.match(/cancelled/g)?.length, 1);
  const why = taskNode(task({ id: 'task-005', status: 'cancelled', result: result({ error: 'cancelled: the run was reset' }) }), new Date());
  assert.equal(why.details[0].label, 'cancelled: the run was reset');
});

test('a held task past its work says its stage, and its own model in the hover', () => {
  const node = taskNode(
    task({ id: 'task-006', status: 'in_progress', attempts: 1, claimed_by: 'worker-2', stage: 'verifying', model: 'claude-opus' }),
    new Date(),
  );
  assert.match(node.description, /worker-2 · verifying/);
  assert.match(node.tooltip, /Stage: verifying/);
  assert.match(node.tooltip, /Model: claude\\-opus/);
  const working = taskNode(task({ id: 'task-007', status: 'in_progress', claimed_by: 'worker-1', stage: 'working' }), new Date());
  assert.doesNotMatch(working.description, /working/);
});
