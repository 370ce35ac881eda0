/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The plan graph's webview: lays the graph out with dagre (both loaded from the
 * extension's files before this script), draws it as SVG, redraws in place the
 * nodes a patch names, and says which node was clicked. What to draw is decided by
 * the extension (src/graph/); this only draws it.
 */

import type { Dagre, Layout, LayoutInput, Point } from '../graph/layout';
import type { GraphEdge, GraphNode } from '../graph/model';
import type { FromWebview, ToWebview } from '../graph/update';

declare const dagre: Dagre;
declare const batonLayout: { computeLayout(dagre: Dagre, input: LayoutInput): Layout };
declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const SVG = 'http://www.w3.org/2000/svg';
const vscode = acquireVsCodeApi();
const canvas = document.getElementById('graph') as unknown as SVGSVGElement;
const empty = document.getElementById('empty') as HTMLElement;
const timing = document.getElementById('timing') as HTMLElement;
const nodeElements = new Map<string, SVGGElement>();
const edgeElements = new Map<string, SVGPathElement>();

for (const key of document.querySelectorAll<HTMLElement>('[data-accent]')) {
  key.style.setProperty('--accent', key.dataset.accent ?? '');
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  if (message.type === 'graph') {
    try {
      draw(message.graph.nodes, message.graph.edges, message.input);
    } finally {
      vscode.postMessage({ type: 'drawn' });
    }
  } else if (message.type === 'patch') {
    message.nodes.forEach(updateNode);
    message.edges.forEach(updateEdge);
  }
});

canvas.addEventListener('click', (event) => {
  const node = (event.target as Element).closest('g.node');
  const id = node?.getAttribute('data-id');
  if (id) {
    vscode.postMessage({ type: 'open', id });
  }
});

canvas.addEventListener('keydown', (event) => {
  const node = (event.target as Element).closest('g.node');
  const id = node?.getAttribute('data-id');
  if (id && (event.key === 'Enter' || event.key === ' ')) {
    event.preventDefault();
    vscode.postMessage({ type: 'open', id });
  }
});

function draw(nodes: GraphNode[], edges: GraphEdge[], input: LayoutInput): void {
  const started = performance.now();
  const layout = batonLayout.computeLayout(dagre, input);
  const laidOut = performance.now();
  canvas.replaceChildren(arrowHead());
  nodeElements.clear();
  edgeElements.clear();
  canvas.setAttribute('width', String(Math.ceil(layout.width)));
  canvas.setAttribute('height', String(Math.ceil(layout.height)));
  canvas.setAttribute('viewBox', `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`);
  const edgeLayer = element('g', { class: 'edges' });
  const nodeLayer = element('g', { class: 'nodes' });
  canvas.append(edgeLayer, nodeLayer);
  for (const edge of edges) {
    const path = element('path', { class: 'edge', d: polyline(layout.edges[edge.id] ?? []) });
    path.setAttribute('data-id', edge.id);
    edgeElements.set(edge.id, path);
    updateEdge(edge);
    edgeLayer.append(path);
  }
  for (const node of nodes) {
    const box = layout.nodes[node.id];
    if (!box) {
      continue;
    }
    const group = element('g', { class: 'node', transform: `translate(${box.x},${box.y})`, tabindex: '0', role: 'button' });
    group.setAttribute('data-id', node.id);
    group.append(
      element('rect', { class: 'box', width: String(box.width), height: String(box.height), rx: '4' }),
      element('rect', { class: 'stripe', width: '5', height: String(box.height), rx: '2' }),
      text('id', 12, 18, node.id),
      text('state', box.width - 8, 18, ''),
      text('label', 12, 36, node.label),
      element('title', {}),
    );
    nodeElements.set(node.id, group);
    updateNode(node);
    nodeLayer.append(group);
  }
  empty.hidden = nodes.length > 0;
  timing.textContent = `${nodes.length} tasks, laid out in ${Math.round(laidOut - started)} ms`;
}

function updateNode(node: GraphNode): void {
  const group = nodeElements.get(node.id);
  if (!group) {
    return;
  }
  group.setAttribute('class', `node status-${node.status}${node.critical ? ' critical' : ''}`);
  group.setAttribute('data-status', node.status);
  group.setAttribute('aria-label', `${node.id} ${node.label}: ${node.statusText}`);
  group.style.setProperty('--accent', node.accent);
  const state = group.querySelector('text.state');
  if (state) {
    state.textContent = node.statusText;
  }
  const title = group.querySelector('title');
  if (title) {
    title.textContent = node.detail;
  }
}

function updateEdge(edge: GraphEdge): void {
  const path = edgeElements.get(edge.id);
  path?.setAttribute('class', edge.critical ? 'edge critical' : 'edge');
  path?.setAttribute('marker-end', edge.critical ? 'url(#arrow-critical)' : 'url(#arrow)');
}

function text(kind: string, x: number, y: number, content: string): SVGTextElement {
  const node = element('text', { class: kind, x: String(x), y: String(y) });
  node.textContent = content;
  return node;
}

/** The arrow heads: one for an edge, one for an edge of the critical path. */
function arrowHead(): SVGDefsElement {
  const defs = element('defs', {});
  for (const [id, kind] of [
    ['arrow', 'arrow'],
    ['arrow-critical', 'arrow critical'],
  ]) {
    const marker = element('marker', {
      id,
      viewBox: '0 0 10 10',
      refX: '10',
      refY: '5',
      markerWidth: '7',
      markerHeight: '7',
      orient: 'auto-start-reverse',
    });
    marker.append(element('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: kind }));
    defs.append(marker);
  }
  return defs;
}

function polyline(points: Point[]): string {
  return points.map((point, index) => `${index === 0 ? 'M' : 'L'} ${point.x} ${point.y}`).join(' ');
}

function element<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string>): SVGElementTagNameMap[K] {
  const created = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    created.setAttribute(key, value);
  }
  return created;
}

vscode.postMessage({ type: 'ready' });
