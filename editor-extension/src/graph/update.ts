/**
 * What the plan graph panel sends after a change: the whole graph, laid out again,
 * when its shape changed (a task or a dependency added or removed, a label that
 * changes a node's size), else only the nodes and edges whose look changed, which
 * the webview redraws in place.
 */

import type { LayoutInput } from './layout';
import { GraphEdge, GraphNode, PlanGraph } from './model';

export type GraphUpdate =
  | { kind: 'layout'; graph: PlanGraph }
  | { kind: 'patch'; nodes: GraphNode[]; edges: GraphEdge[] }
  | { kind: 'none' };

/** What changed from the graph the webview shows (none yet: everything) to the new one. */
export function graphUpdate(before: PlanGraph | undefined, after: PlanGraph): GraphUpdate {
  if (!before || !sameShape(before, after)) {
    return { kind: 'layout', graph: after };
  }
  const oldNodes = new Map(before.nodes.map((node) => [node.id, node]));
  const oldEdges = new Map(before.edges.map((edge) => [edge.id, edge]));
  const nodes = after.nodes.filter((node) => !sameNode(oldNodes.get(node.id), node));
  const edges = after.edges.filter((edge) => oldEdges.get(edge.id)?.critical !== edge.critical);
  return nodes.length === 0 && edges.length === 0 ? { kind: 'none' } : { kind: 'patch', nodes, edges };
}

/** The same nodes with the same labels, and the same edges: the layout holds. */
function sameShape(before: PlanGraph, after: PlanGraph): boolean {
  if (before.nodes.length !== after.nodes.length || before.edges.length !== after.edges.length) {
    return false;
  }
  const labels = new Map(before.nodes.map((node) => [node.id, node.label]));
  const edges = new Set(before.edges.map((edge) => edge.id));
  return after.nodes.every((node) => labels.get(node.id) === node.label) && after.edges.every((edge) => edges.has(edge.id));
}

function sameNode(a: GraphNode | undefined, b: GraphNode): boolean {
  return (
    a !== undefined &&
    a.status === b.status &&
    a.statusText === b.statusText &&
    a.accent === b.accent &&
    a.critical === b.critical &&
    a.detail === b.detail
  );
}

/** What the panel sends to its webview. */
export type ToWebview =
  | { type: 'graph'; graph: PlanGraph; input: LayoutInput }
  | { type: 'patch'; nodes: GraphNode[]; edges: GraphEdge[] };

/**
 * What the webview sends back: it is ready for the graph, it has drawn the last
 * graph sent, or a node was clicked.
 */
export type FromWebview = { type: 'ready' } | { type: 'drawn' } | { type: 'open'; id: string };
