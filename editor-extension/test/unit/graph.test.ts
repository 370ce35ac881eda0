/** The plan graph's logic: the graph of the tasks, the layout's input and answer, colours, updates. */

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { computeLayout, Dagre, layoutInput } from '../../src/graph/layout';
import { LABEL_MAX, planGraph } from '../../src/graph/model';
import { legend, statusAccent } from '../../src/graph/style';
import { graphUpdate } from '../../src/graph/update';
import { TASK_STATUSES, Task } from '../../src/model/protocol';
import { task } from './fixtures';

// The package is an ES module with a CommonJS build, which `require` takes (as the
// webview takes its browser build).
const dagre = require('@dagrejs/dagre') as Dagre;

/** a → b → d, a → c, e alone. */
function plan(): Task[] {
  return [
    task({ id: 'task-001', description: 'Design the schema\nwith details', status: 'done' }),
    task({ id: 'task-002', dependencies: ['task-001'], status: 'in_progress', claimed_by: 'worker-1' }),
    task({ id: 'task-003', dependencies: ['task-001'] }),
    task({ id: 'task-004', dependencies: ['task-002'] }),
    task({ id: 'task-005' }),
  ];
}

test('a node per task, an edge from each dependency to the task waiting for it, depth by the longest chain', () => {
  const graph = planGraph(plan());
  assert.deepEqual(
    graph.nodes.map((node) => [node.id, node.depth]),
    [
      ['task-001', 0],
      ['task-002', 1],
      ['task-003', 1],
      ['task-004', 2],
      ['task-005', 0],
    ],
  );
  assert.deepEqual(
    graph.edges.map((edge) => edge.id),
    ['task-001->task-002', 'task-001->task-003', 'task-002->task-004'],
  );
  const first = graph.nodes[0];
  assert.equal(first.label, 'Design the schema');
  assert.equal(first.statusText, 'done');
  assert.match(graph.nodes[1].detail, /in progress · worker-1/);
});

test('the critical path is the longest chain, nodes and edges, and absent without dependencies', () => {
  const graph = planGraph(plan());
  assert.deepEqual(
    graph.nodes.filter((node) => node.critical).map((node) => node.id),
    ['task-001', 'task-002', 'task-004'],
  );
  assert.deepEqual(
    graph.edges.filter((edge) => edge.critical).map((edge) => edge.id),
    ['task-001->task-002', 'task-002->task-004'],
  );
  const flat = planGraph([task({ id: 'task-001' }), task({ id: 'task-002' })]);
  assert.ok(flat.nodes.every((node) => !node.critical));
});

test('a dependency that is not among the tasks draws no edge, and a cycle does not hang', () => {
  const graph = planGraph([
    task({ id: 'task-001', dependencies: ['task-099'] }),
    task({ id: 'task-002', dependencies: ['task-003'] }),
    task({ id: 'task-003', dependencies: ['task-002'] }),
  ]);
  assert.deepEqual(
    graph.edges.map((edge) => edge.id),
    ['task-003->task-002', 'task-002->task-003'],
  );
  assert.equal(graph.nodes[0].depth, 0);
});

test('a long description is shortened on the node and whole in the hover', () => {
  const long = 'Rewrite the greeting so that it greets everyone in their own language';
  const [node] = planGraph([task({ id: 'task-001', description: long })]).nodes;
  assert.ok(node.label.length <= LABEL_MAX, node.label);
  assert.ok(node.label.endsWith('…'));
  assert.match(node.detail, new RegExp(long));
});

test('each status has its own theme colour, and a held task past its work its stage', () => {
  const accents = TASK_STATUSES.map((status) => statusAccent(status));
  assert.equal(new Set(accents).size, TASK_STATUSES.length);
  for (const accent of accents) {
    assert.match(accent, /^var\(--vscode-[A-Za-z.-]+\)$/);
  }
  assert.equal(statusAccent('done'), 'var(--vscode-charts-green)');
  assert.equal(statusAccent('failed'), 'var(--vscode-charts-red)');
  assert.notEqual(statusAccent('in_progress', 'verifying'), statusAccent('in_progress'));
  assert.equal(statusAccent('in_progress', 'working'), statusAccent('in_progress'));
  const [node] = planGraph([task({ id: 'task-001', status: 'in_progress', stage: 'reviewing' })]).nodes;
  assert.equal(node.statusText, 'reviewing');
  assert.deepEqual(
    legend().map((key) => key.status),
    TASK_STATUSES,
  );
});

test('the layout input has a box per task as wide as its label needs, and each dependency', () => {
  const graph = planGraph(plan());
  const input = layoutInput(graph);
  assert.deepEqual(
    input.nodes.map((node) => node.id),
    graph.nodes.map((node) => node.id),
  );
  assert.deepEqual(
    input.edges.map((edge) => [edge.from, edge.to]),
    graph.edges.map((edge) => [edge.from, edge.to]),
  );
  const long = layoutInput(planGraph([task({ id: 'task-001', description: 'x'.repeat(80) })])).nodes[0];
  const short = layoutInput(planGraph([task({ id: 'task-001', description: 'x' })])).nodes[0];
  assert.ok(long.width > short.width && long.width <= 250 && short.width >= 150);
});

test('laid out by dagre: columns by dependency depth, no two boxes overlap, each edge drawn', () => {
  const graph = planGraph(plan());
  const layout = computeLayout(dagre, layoutInput(graph));
  const x = (id: string) => layout.nodes[id].x;
  assert.ok(x('task-001') < x('task-002') && x('task-002') < x('task-004'));
  assert.equal(x('task-002'), x('task-003'));
  assert.equal(x('task-005'), x('task-001'), 'a task with no dependency is in the first column, whatever waits for it');
  const edge = layout.edges['task-002->task-004'];
  assert.ok(edge[0].x < edge[edge.length - 1].x, 'an edge goes from the dependency to the task that waits for it');
  const boxes = Object.values(layout.nodes);
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      assert.ok(apart, `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
    }
  }
  for (const edge of graph.edges) {
    assert.ok(layout.edges[edge.id].length >= 2, edge.id);
  }
  assert.ok(layout.width > 0 && layout.height > 0);
});

/** 200 tasks in 20 waves of 10, each depending on two tasks of the wave before. */
function bigPlan(): Task[] {
  const tasks: Task[] = [];
  for (let n = 1; n <= 200; n++) {
    const wave = Math.floor((n - 1) / 10);
    const dependencies = wave === 0 ? [] : [n - 10, n - 10 + (n % 10 === 0 ? -9 : 1)].map((d) => `task-${String(d).padStart(3, '0')}`);
    tasks.push(task({ id: `task-${String(n).padStart(3, '0')}`, description: `Step ${n} of the big plan`, dependencies }));
  }
  return tasks;
}

test('200 tasks: the graph, its layout input and its layout, timed', () => {
  const tasks = bigPlan();
  const times: number[] = [];
  let layout;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    const graph = planGraph(tasks);
    layout = computeLayout(dagre, layoutInput(graph));
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`200 tasks, 380 dependencies: graph and layout in ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${times[2].toFixed(0)} ms)`);
  assert.equal(Object.keys(layout!.nodes).length, 200);
  const graph = planGraph(tasks);
  assert.equal(graph.edges.length, 380);
  assert.equal(graph.nodes.filter((node) => node.critical).length, 20, 'the critical path crosses the 20 waves');
});

test('an update: nothing, the nodes whose look changed, or a new layout when the shape changed', () => {
  const before = planGraph(plan());
  assert.deepEqual(graphUpdate(before, planGraph(plan())), { kind: 'none' });
  assert.equal(graphUpdate(undefined, before).kind, 'layout');

  const changed = plan();
  changed[2] = { ...changed[2], status: 'in_progress', claimed_by: 'worker-2' };
  const update = graphUpdate(before, planGraph(changed));
  assert.equal(update.kind, 'patch');
  if (update.kind === 'patch') {
    assert.deepEqual(
      update.nodes.map((node) => [node.id, node.status]),
      [['task-003', 'in_progress']],
    );
    assert.deepEqual(update.edges, []);
  }

  const added = [...plan(), task({ id: 'task-006', dependencies: ['task-004'] })];
  const grown = graphUpdate(before, planGraph(added));
  assert.equal(grown.kind, 'layout');
  if (grown.kind === 'layout') {
    assert.equal(grown.graph.nodes.length, 6);
  }

  const relabelled = plan();
  relabelled[4] = { ...relabelled[4], description: 'Something else entirely' };
  assert.equal(graphUpdate(before, planGraph(relabelled)).kind, 'layout');

  const rewired = plan();
  rewired[3] = { ...rewired[3], dependencies: ['task-003'] };
  assert.equal(graphUpdate(before, planGraph(rewired)).kind, 'layout');
});
