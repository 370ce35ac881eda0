/**
 * “Baton: Show Plan Graph”: a webview panel that draws the plan (src/graph/) and
 * follows the store. One panel: showing it again reveals it. A change sends the
 * webview only what changed; the panel is never made again for it.
 */

import * as vscode from 'vscode';
import { statusLabel } from '../model/format';
import { Store } from '../model/store';
import { layoutInput } from '../graph/layout';
import { planGraph, PlanGraph } from '../graph/model';
import { legend } from '../graph/style';
import { FromWebview, graphUpdate, ToWebview } from '../graph/update';
import { coalesce } from './coalesce';
import { webviewPage } from './webviewPage';

/** The layout library, as the package ships it for browsers (one file, no network). */
const DAGRE = ['node_modules', '@dagrejs', 'dagre', 'dist'];

export class PlanGraphPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** What the webview shows; none until it said it is ready. */
  private shown: PlanGraph | undefined;
  private unsubscribe: (() => void) | undefined;
  /**
   * A graph was sent and the webview has not drawn it yet. A large plan takes a
   * while to lay out: the graphs that change meanwhile (a leader adding task after
   * task) make one layout once it is done, not one each.
   */
  private drawing = false;
  private layoutWaits = false;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: Store,
    /** Opens a task whose node was clicked. */
    private readonly openTask: (id: string) => Thenable<unknown>,
  ) {}

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const roots = [
      vscode.Uri.joinPath(this.extensionUri, 'media'),
      vscode.Uri.joinPath(this.extensionUri, ...DAGRE),
      vscode.Uri.joinPath(this.extensionUri, 'out', 'src'),
    ];
    const panel = vscode.window.createWebviewPanel('baton.planGraph', 'Baton: Plan Graph', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: roots,
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'baton.svg');
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((message: FromWebview) => this.received(message));
    panel.onDidDispose(() => {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      this.panel = undefined;
      this.shown = undefined;
      this.drawing = false;
      this.layoutWaits = false;
    });
    this.unsubscribe = this.store.onChange(coalesce(() => this.refresh(), 100));
    this.panel = panel;
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private received(message: FromWebview): void {
    if (message.type === 'ready') {
      // A webview that was hidden starts again empty.
      this.shown = undefined;
      this.drawing = false;
      this.refresh(true);
    } else if (message.type === 'drawn') {
      this.drawing = false;
      if (this.layoutWaits) {
        this.layoutWaits = false;
        this.refresh();
      }
    } else if (message.type === 'open') {
      void this.openTask(message.id);
    }
  }

  private refresh(ready = false): void {
    if (!this.panel || (!ready && !this.shown)) {
      return;
    }
    const graph = planGraph(this.store.tasks);
    const update = graphUpdate(this.shown, graph);
    let message: ToWebview | undefined;
    if (update.kind === 'layout') {
      if (this.drawing) {
        this.layoutWaits = true;
        return;
      }
      this.drawing = true;
      message = { type: 'graph', graph, input: layoutInput(graph) };
    } else if (update.kind === 'patch') {
      message = { type: 'patch', nodes: update.nodes, edges: update.edges };
    }
    this.shown = graph;
    if (message) {
      void this.panel.webview.postMessage(message);
    }
  }

  private html(webview: vscode.Webview): string {
    const keys = legend()
      .map(({ status, accent }) => `<span class="key" data-accent="${accent}">${statusLabel(status)}</span>`)
      .join('');
    return webviewPage(webview, this.extensionUri, {
      title: 'Baton: Plan Graph',
      stylesheet: ['media', 'graph.css'],
      body: `<header>${keys}<span class="key critical">critical path</span><span id="timing"></span></header>
<p id="empty" hidden>No tasks yet: plan a goal or add tasks, and they appear here.</p>
<div class="scroll"><svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="The plan's tasks and their dependencies"></svg></div>`,
      // layout.js is a CommonJS module that imports nothing: it fills the `exports`
      // given to it, kept as `batonLayout` for the graph's script.
      scripts: [
        { inline: 'var exports = {};' },
        { file: [...DAGRE, 'dagre.min.js'] },
        { file: ['out', 'src', 'graph', 'layout.js'] },
        { inline: 'var batonLayout = exports; exports = {};' },
        { file: ['out', 'src', 'webview', 'graphView.js'] },
      ],
    });
  }
}
