/**
 * “Baton: Show Timeline”: a webview panel with the last run's agents on a timeline
 * (src/timeline/), fetched with `baton/timeline` and kept current by the
 * `baton/attempt` notifications; while agents run, redrawn each second so that
 * their bars grow.
 */

import * as vscode from 'vscode';
import { DaemonConnection } from '../connection';
import { AttemptOutcome, AttemptRecord, Method, Notification, Timeline } from '../model/protocol';
import { applyAttempt, outcomeAccent, timelineView } from '../timeline/model';
import { webviewPage } from './webviewPage';

/** The outcomes the legend names, with running first. */
const LEGEND: (AttemptOutcome | null)[] = [null, 'done', 'requeued', 'failed', 'budget', 'stopped'];

export class TimelinePanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private timeline: Timeline | undefined;
  private ready = false;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly connection: DaemonConnection,
  ) {}

  async show(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel('baton.timeline', 'Baton: Timeline', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media'), vscode.Uri.joinPath(this.extensionUri, 'out', 'src')],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'baton.svg');
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((message: { type: string }) => {
      if (message.type === 'ready') {
        this.ready = true;
        this.post();
      }
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      this.timeline = undefined;
      this.tick(false);
    });
    this.panel = panel;
    await this.fetch();
  }

  /** A daemon notification: an agent started or ended, or a run ended. */
  notification(method: string, params: unknown): void {
    if (!this.panel) {
      return;
    }
    if (method === Notification.attempt && this.timeline) {
      this.timeline = applyAttempt(this.timeline, params as AttemptRecord);
      this.post();
    } else if (method === Notification.runFinished || method === Notification.stateChanged) {
      void this.fetch().catch(() => undefined);
    }
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private async fetch(): Promise<void> {
    this.timeline = await this.connection.request<Timeline>(Method.timeline, {});
    this.post();
  }

  private post(): void {
    if (!this.panel || !this.ready || !this.timeline) {
      return;
    }
    const view = timelineView(this.timeline, new Date());
    void this.panel.webview.postMessage({ type: 'timeline', view });
    this.tick(view.lanes.some((lane) => lane.bars.some((bar) => bar.open)));
  }

  /** Redraws each second while an agent runs. */
  private tick(running: boolean): void {
    if (running && !this.ticker) {
      this.ticker = setInterval(() => this.post(), 1000);
    } else if (!running && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private html(webview: vscode.Webview): string {
    const keys = LEGEND.map((outcome) => `<span class="key" data-accent="${outcomeAccent(outcome)}">${outcome ?? 'running'}</span>`).join('');
    return webviewPage(webview, this.extensionUri, {
      title: 'Baton: Timeline',
      stylesheet: ['media', 'timeline.css'],
      body: `<header>${keys}<span class="key idle">idle</span></header>
<p id="summary"></p>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="The run's agents over time"></svg>`,
      scripts: [{ inline: 'var exports = {};' }, { file: ['out', 'src', 'webview', 'timelineView.js'] }],
    });
  }
}
