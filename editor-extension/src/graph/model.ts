/**
 * The plan as a graph, from the tasks: a node per task, an edge from each
 * dependency to the task that waits for it, each task's depth (the longest chain of
 * dependencies before it), and the critical path. Plain data, no editor API: the
 * plan graph panel draws it, and it is tested alone.
 */

import { statusLabel } from '../model/format';
import { compareIds, firstLine } from '../model/tasksTree';
import { Task, TaskStatus } from '../model/protocol';
import { statusAccent } from './style';

export interface GraphNode {
  id: string;
  /** The first line of the description, shortened to fit a node. */
  label: string;
  status: TaskStatus;
  /** What the node says of its status: the stage past work, else the status. */
  statusText: string;
  /** The theme colour of its status, a CSS value. */
  accent: string;
  /** The longest chain of dependencies before it: the column it is drawn in. */
  depth: number;
  /** On the longest chain of dependencies of the plan. */
  critical: boolean;
  /** The hover: the whole first line, who holds it. */
  detail: string;
}

export interface GraphEdge {
  /** `from->to`. */
  id: string;
  /** The dependency. */
  from: string;
  /** The task that waits for it. */
  to: string;
  critical: boolean;
}

export interface PlanGraph {
  /** By id. */
  nodes: GraphNode[];
  /** By id. */
  edges: GraphEdge[];
}

/** The longest label a node shows; the hover has the rest. */
export const LABEL_MAX = 32;

/** The graph of the tasks, nodes and edges sorted by id so that updates compare in order. */
export function planGraph(tasks: readonly Task[]): PlanGraph {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const sorted = [...tasks].sort((a, b) => compareIds(a.id, b.id));
  const depths = dependencyDepths(sorted, byId);
  const critical = criticalPath(sorted, byId, depths);
  const nodes = sorted.map((task): GraphNode => {
    const line = firstLine(task.description);
    const stage = task.stage && task.stage !== 'working' ? task.stage : undefined;
    const holder = task.claimed_by ? ` · ${task.claimed_by}` : '';
    return {
      id: task.id,
      label: shorten(line, LABEL_MAX),
      status: task.status,
      statusText: stage ?? statusLabel(task.status),
      accent: statusAccent(task.status, stage),
      depth: depths.get(task.id) ?? 0,
      critical: critical.nodes.has(task.id),
      detail: `${task.id} ${line}\n${statusLabel(task.status)}${holder}`,
    };
  });
  const edges: GraphEdge[] = [];
  for (const task of sorted) {
    for (const dependency of [...task.dependencies].sort(compareIds)) {
      if (byId.has(dependency)) {
        const id = edgeId(dependency, task.id);
        edges.push({ id, from: dependency, to: task.id, critical: critical.edges.has(id) });
      }
    }
  }
  return { nodes, edges };
}

/** An edge's id, the same in the graph, the layout and the webview. */
export function edgeId(from: string, to: string): string {
  return `${from}->${to}`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/**
 * Each task's depth: 0 without dependencies, else one more than its deepest
 * dependency. A dependency that is not among the tasks counts for nothing; a cycle
 * (which the daemon refuses) is cut where it closes.
 */
function dependencyDepths(tasks: readonly Task[], byId: Map<string, Task>): Map<string, number> {
  const depths = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (task: Task): number => {
    const known = depths.get(task.id);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(task.id)) {
      return 0;
    }
    visiting.add(task.id);
    let depth = 0;
    for (const id of task.dependencies) {
      const dependency = byId.get(id);
      if (dependency) {
        depth = Math.max(depth, depthOf(dependency) + 1);
      }
    }
    visiting.delete(task.id);
    depths.set(task.id, depth);
    return depth;
  };
  for (const task of tasks) {
    depthOf(task);
  }
  return depths;
}

/**
 * The longest chain of dependencies, counted in tasks: from the deepest task back
 * through a dependency one level up each time (the lowest id among equals). None
 * when no task depends on another.
 */
function criticalPath(
  tasks: readonly Task[],
  byId: Map<string, Task>,
  depths: Map<string, number>,
): { nodes: Set<string>; edges: Set<string> } {
  const nodes = new Set<string>();
  const edges = new Set<string>();
  let end: Task | undefined;
  for (const task of tasks) {
    if ((depths.get(task.id) ?? 0) > (end ? (depths.get(end.id) ?? 0) : 0)) {
      end = task;
    }
  }
  let current = end;
  while (current) {
    nodes.add(current.id);
    const depth = depths.get(current.id) ?? 0;
    const next = [...current.dependencies]
      .sort(compareIds)
      .map((id) => byId.get(id))
      .find((dependency) => dependency !== undefined && depths.get(dependency.id) === depth - 1);
    if (next) {
      edges.add(edgeId(next.id, current.id));
    }
    current = depth > 0 ? next : undefined;
  }
  return { nodes, edges };
}
