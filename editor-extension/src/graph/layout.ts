/**
 * Where the plan graph's nodes go: the input of the layout library (dagre) made
 * from the graph, and its answer read back. Columns are dependency depths, left to
 * right: dagre is given each edge from the waiting task to its dependency, laid out
 * right to left with its longest-path ranking, which puts every task one column
 * past its deepest dependency (and is dagre's fastest ranking). This
 * module is loaded into the webview as well, where the layout runs: it imports
 * nothing at run time (the types only), and takes the library as an argument.
 */

import type { PlanGraph } from './model';

/** Node sizes and spacing, in CSS pixels. */
export const NODE_HEIGHT = 46;
const NODE_MIN_WIDTH = 150;
const NODE_MAX_WIDTH = 250;
/** About the width of a character of the node's label. */
const CHAR_WIDTH = 7;

export interface LayoutInput {
  graph: { rankdir: 'RL'; ranker: 'longest-path'; nodesep: number; ranksep: number; marginx: number; marginy: number };
  nodes: { id: string; width: number; height: number }[];
  edges: { id: string; from: string; to: string }[];
}

export interface Point {
  x: number;
  y: number;
}

/** Where everything is: node boxes by their top-left corner, edges as polylines. */
export interface Layout {
  width: number;
  height: number;
  nodes: Record<string, { x: number; y: number; width: number; height: number }>;
  edges: Record<string, Point[]>;
}

/** The part of dagre the layout uses (`dagre.min.js` in the webview, the package in tests). */
export interface Dagre {
  graphlib: { Graph: new (options?: { multigraph?: boolean }) => DagreGraph };
  layout(graph: DagreGraph): void;
}

export interface DagreGraph {
  setGraph(label: object): unknown;
  setDefaultEdgeLabel(label: () => object): unknown;
  setNode(id: string, label: { width: number; height: number }): unknown;
  setEdge(from: string, to: string, label?: object): unknown;
  node(id: string): { x: number; y: number; width: number; height: number };
  edge(from: string, to: string): { points: Point[] };
  graph(): { width?: number; height?: number };
}

/** The layout library's input: a node as wide as its label needs, an edge per dependency. */
export function layoutInput(graph: PlanGraph): LayoutInput {
  return {
    graph: { rankdir: 'RL', ranker: 'longest-path', nodesep: 18, ranksep: 56, marginx: 16, marginy: 16 },
    nodes: graph.nodes.map((node) => ({
      id: node.id,
      width: Math.min(NODE_MAX_WIDTH, Math.max(NODE_MIN_WIDTH, Math.max(node.id.length, node.label.length) * CHAR_WIDTH + 24)),
      height: NODE_HEIGHT,
    })),
    edges: graph.edges.map((edge) => ({ id: edge.id, from: edge.from, to: edge.to })),
  };
}

/** Runs the layout library on the input and reads its answer. */
export function computeLayout(dagre: Dagre, input: LayoutInput): Layout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ ...input.graph });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of input.nodes) {
    graph.setNode(node.id, { width: node.width, height: node.height });
  }
  for (const edge of input.edges) {
    graph.setEdge(edge.to, edge.from);
  }
  dagre.layout(graph);
  const layout: Layout = { width: graph.graph().width ?? 0, height: graph.graph().height ?? 0, nodes: {}, edges: {} };
  for (const node of input.nodes) {
    const placed = graph.node(node.id);
    layout.nodes[node.id] = {
      x: placed.x - placed.width / 2,
      y: placed.y - placed.height / 2,
      width: placed.width,
      height: placed.height,
    };
  }
  for (const edge of input.edges) {
    // Drawn from the dependency to the task that waits for it.
    const points = graph.edge(edge.to, edge.from).points.map((point) => ({ x: point.x, y: point.y }));
    layout.edges[edge.id] = points.reverse();
  }
  return layout;
}
