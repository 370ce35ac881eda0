/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The timeline's webview: draws the view the extension made (src/timeline/) as SVG,
 * a lane per agent with its bars and idle gaps on one time axis, scaled to the
 * panel's width. Each message replaces the drawing: a run has few lanes and bars.
 */

import type { TimelineView } from '../timeline/model';

declare function acquireVsCodeApi(): { postMessage(message: { type: 'ready' }): void };

const SVG = 'http://www.w3.org/2000/svg';
const LANE_HEIGHT = 28;
const BAR_HEIGHT = 18;
const LABEL_WIDTH = 110;
const AXIS_HEIGHT = 22;
const vscode = acquireVsCodeApi();
const canvas = document.getElementById('timeline') as unknown as SVGSVGElement;
const summary = document.getElementById('summary') as HTMLElement;
let last: TimelineView | undefined;

for (const key of document.querySelectorAll<HTMLElement>('[data-accent]')) {
  key.style.setProperty('--accent', key.dataset.accent ?? '');
}

window.addEventListener('message', (event: MessageEvent<{ type: 'timeline'; view: TimelineView }>) => {
  if (event.data.type === 'timeline') {
    last = event.data.view;
    draw(last);
  }
});
window.addEventListener('resize', () => last && draw(last));

function draw(view: TimelineView): void {
  const width = Math.max(320, document.body.clientWidth - 24);
  const height = AXIS_HEIGHT + view.lanes.length * LANE_HEIGHT + 8;
  canvas.setAttribute('width', String(width));
  canvas.setAttribute('height', String(height));
  canvas.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const span = Math.max(view.span, 1000);
  const scale = (width - LABEL_WIDTH - 8) / span;
  const x = (ms: number) => LABEL_WIDTH + ms * scale;
  const parts: SVGElement[] = [];
  for (const tick of ticks(span)) {
    parts.push(element('line', { class: 'tick', x1: x(tick), x2: x(tick), y1: AXIS_HEIGHT - 4, y2: height }));
    parts.push(text('axis', x(tick) + 2, 12, seconds(tick)));
  }
  view.lanes.forEach((lane, index) => {
    const y = AXIS_HEIGHT + index * LANE_HEIGHT;
    const row = element('g', { class: `lane kind-${lane.kind}`, 'data-lane': lane.lane });
    row.append(text('lane-name', 4, y + LANE_HEIGHT / 2 + 4, lane.lane));
    const top = y + (LANE_HEIGHT - BAR_HEIGHT) / 2;
    for (const gap of lane.gaps) {
      const idle = element('rect', { class: 'idle', x: x(gap.start), y: top, width: Math.max(0, (gap.end - gap.start) * scale), height: BAR_HEIGHT });
      idle.append(title(`${lane.lane} idle for ${seconds(gap.end - gap.start)}`));
      row.append(idle);
    }
    for (const bar of lane.bars) {
      const group = element('g', { class: `bar${bar.open ? ' open' : ''}`, 'data-outcome': bar.outcome ?? 'running', 'data-id': bar.id });
      group.style.setProperty('--accent', bar.accent);
      // A pixel short of its end, so that back-to-back attempts on a lane stay apart.
      const barWidth = Math.max(2, (bar.end - bar.start) * scale - 1);
      group.append(element('rect', { x: x(bar.start), y: top, width: barWidth, height: BAR_HEIGHT, rx: 3 }));
      if (barWidth > 48) {
        group.append(text('bar-label', x(bar.start) + 4, top + BAR_HEIGHT - 5, bar.label));
      }
      group.append(title(bar.detail));
      row.append(group);
    }
    parts.push(row);
  });
  canvas.replaceChildren(...parts);
  const lanes = view.lanes.length;
  summary.textContent =
    view.run === 0
      ? 'No run yet: the timeline shows a run’s agents once one starts.'
      : `Run ${view.run} of ${view.runs}${view.going ? ' (going)' : ''} · ${seconds(view.span)} · ${lanes} ${lanes === 1 ? 'lane' : 'lanes'} · at most ${view.peak} ${view.peak === 1 ? 'agent' : 'agents'} at once`;
}

/** About eight round ticks over the span. */
function ticks(span: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  const step = steps.find((candidate) => span / candidate <= 8) ?? 7200_000;
  const out: number[] = [];
  for (let at = 0; at <= span; at += step) {
    out.push(at);
  }
  return out;
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function title(content: string): SVGTitleElement {
  const node = element('title', {});
  node.textContent = content;
  return node;
}

function text(kind: string, x: number, y: number, content: string): SVGTextElement {
  const node = element('text', { class: kind, x, y });
  node.textContent = content;
  return node;
}

function element<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const created = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    created.setAttribute(key, String(value));
  }
  return created;
}

vscode.postMessage({ type: 'ready' });
