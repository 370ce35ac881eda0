/**
 * The end-to-end harness: a real VS Code (code-server) with the packaged extension
 * installed, a real baton daemon for a temporary git workspace, and headless
 * Chromium driven by Playwright. Everything waits on conditions, with timeouts.
 */

import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import { Browser, chromium, FrameLocator, Locator, Page } from 'playwright-core';

/** editor-extension/ */
export const EXTENSION_DIR = path.resolve(__dirname, '..', '..', '..');
const REPO_ROOT = path.resolve(EXTENSION_DIR, '..');
const CACHE_DIR = process.env.BATON_CACHE_DIR || path.join(os.homedir(), '.cache', 'baton');
export const ARTIFACTS_DIR = path.join(EXTENSION_DIR, 'test-artifacts');

export interface Tools {
  codeServer: string;
  nodeBin: string;
  chromium: string;
  baton: string;
  vsix: string;
  fakeClaude: string;
}

/** Where everything is; says what to do when something is missing. */
export function findTools(): Tools {
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target');
  const tools: Tools = {
    codeServer: path.join(CACHE_DIR, 'code-server', 'node_modules', '.bin', 'code-server'),
    nodeBin: path.join(CACHE_DIR, 'node24', 'current', 'bin'),
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    baton: process.env.BATON_BIN || path.join(target, 'debug', 'baton'),
    vsix: path.join(EXTENSION_DIR, 'baton.vsix'),
    fakeClaude: path.join(EXTENSION_DIR, 'test', 'fake-claude'),
  };
  const hints: Record<keyof Tools, string> = {
    codeServer: 'run editor-extension/scripts/install-test-deps.sh',
    nodeBin: 'run editor-extension/scripts/install-test-deps.sh',
    chromium: 'run editor-extension/scripts/install-test-deps.sh (apt-get install chromium)',
    baton: 'run `cargo build --workspace --bins`, or set BATON_BIN',
    vsix: 'run `npm run package` in editor-extension/',
    fakeClaude: 'it is part of the repository',
  };
  for (const [name, file] of Object.entries(tools) as [keyof Tools, string][]) {
    if (!fs.existsSync(file)) {
      throw new Error(`${file} is missing: ${hints[name]}`);
    }
  }
  return tools;
}

/** A temporary git workspace, VS Code profile and state files for one run of the test. */
export interface Sandbox {
  root: string;
  workspace: string;
  userData: string;
  extensions: string;
  /** Files outside the workspace (state files to load, a bad one). */
  files: string;
}

export function makeSandbox(): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-e2e-'));
  const sandbox: Sandbox = {
    root,
    workspace: path.join(root, 'greeting'),
    userData: path.join(root, 'user-data'),
    extensions: path.join(root, 'extensions'),
    files: path.join(root, 'files'),
  };
  for (const dir of [sandbox.workspace, path.join(sandbox.userData, 'User'), sandbox.extensions, sandbox.files]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: sandbox.workspace, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'e2e@baton.test');
  git('config', 'user.name', 'baton e2e');
  fs.writeFileSync(path.join(sandbox.workspace, 'README.md'), '# Greeting\n\nSays hello.\n');
  fs.mkdirSync(path.join(sandbox.workspace, 'src'));
  fs.writeFileSync(path.join(sandbox.workspace, 'src', 'greeting.js'), 'module.exports = {};\n');
  git('add', '.');
  git('commit', '-q', '-m', 'Start');
  return sandbox;
}

export function writeUserSettings(sandbox: Sandbox, settings: Record<string, unknown>): void {
  const quiet = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'chat.disableAIFeatures': true,
    'git.autoRepositoryDetection': true,
    'files.simpleDialog.enable': true,
  };
  fs.writeFileSync(
    path.join(sandbox.userData, 'User', 'settings.json'),
    JSON.stringify({ ...quiet, ...settings }, null, 2),
  );
}

/** code-server, with the packaged extension installed in the sandbox's profile. */
export class CodeServer {
  private process: ChildProcess | undefined;
  private log = '';
  url = '';

  constructor(
    private readonly tools: Tools,
    private readonly sandbox: Sandbox,
  ) {}

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${this.tools.nodeBin}${path.delimiter}${process.env.PATH ?? ''}` };
  }

  installExtension(): void {
    const result = spawnSync(
      this.tools.codeServer,
      [
        '--user-data-dir',
        this.sandbox.userData,
        '--extensions-dir',
        this.sandbox.extensions,
        '--install-extension',
        this.tools.vsix,
      ],
      { env: this.env(), encoding: 'utf8', timeout: 60_000 },
    );
    if (result.status !== 0 || !/successfully installed/.test(result.stdout)) {
      throw new Error(`installing the .vsix failed:\n${result.stdout}\n${result.stderr}`);
    }
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.process = spawn(
      this.tools.codeServer,
      [
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--user-data-dir',
        this.sandbox.userData,
        '--extensions-dir',
        this.sandbox.extensions,
        '--config',
        path.join(this.sandbox.root, 'code-server.yaml'),
        this.sandbox.workspace,
      ],
      { env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process.stdout?.on('data', (chunk) => (this.log += chunk));
    this.process.stderr?.on('data', (chunk) => (this.log += chunk));
    this.url = `http://127.0.0.1:${port}`;
    await waitUntil(
      async () => {
        if (this.process?.exitCode !== null) {
          throw new Error(`code-server exited:\n${this.log}`);
        }
        try {
          return (await fetch(`${this.url}/healthz`)).ok;
        } catch {
          return false;
        }
      },
      60_000,
      'code-server to answer',
    );
  }

  get output(): string {
    return this.log;
  }

  stop(): void {
    const child = this.process;
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    this.process = undefined;
  }
}

export async function launchBrowser(tools: Tools): Promise<Browser> {
  return chromium.launch({
    executablePath: tools.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 50;
  for (;;) {
    if (await condition()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 250);
  }
}

/** Driving the workbench the way a person does: keyboard, palette, clicks. */
export class Workbench {
  constructor(readonly page: Page) {}

  async open(url: string, folder: string): Promise<void> {
    await this.page.goto(`${url}/?folder=${encodeURIComponent(folder)}`);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.statusItem().waitFor({ timeout: 60_000 });
  }

  /** The extension's status bar item. */
  statusItem(): Locator {
    return this.page.locator('.statusbar-item[id$="baton.status"]');
  }

  async statusText(): Promise<string> {
    return ((await this.statusItem().textContent()) ?? '').trim();
  }

  async waitForStatus(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    let last = '';
    await waitUntil(
      async () => {
        last = await this.statusText();
        return pattern.test(last);
      },
      timeoutMs,
      `the status bar to match ${pattern} (it says “${last}”)`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last: “${last}”`);
    });
    return last;
  }

  quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  /** Runs a command from the palette (F1), by its title as the palette shows it. */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.quickInput().locator('.quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    await this.quickInput()
      .locator('.monaco-list-row.focused', { hasText: title })
      .first()
      .waitFor({ timeout: 10_000 });
    await this.page.keyboard.press('Enter');
  }

  /** Waits for the quick input titled `title`, types `text` and accepts it. */
  async answer(title: string | RegExp, text: string): Promise<void> {
    await this.type(title, text);
    await this.page.keyboard.press('Enter');
  }

  /**
   * Waits for the quick input titled `title` and types `text` without accepting it.
   * The title can show before the box takes its first value (an edit's old text), which
   * would replace what was typed: the text is typed again until the box holds it.
   */
  async type(title: string | RegExp, text: string): Promise<void> {
    await this.quickInput().locator('.quick-input-title', { hasText: title }).waitFor({ timeout: 10_000 });
    const input = this.quickInput().locator('.quick-input-box input');
    await waitUntil(
      async () => {
        await input.fill(text);
        await this.page.waitForTimeout(50);
        return (await input.inputValue()) === text;
      },
      10_000,
      `the input titled ${title} to hold “${text}”`,
    );
  }

  /** Presses Enter in the open quick input and checks that it stays open, showing `message`. */
  async refusedWith(message: RegExp): Promise<void> {
    await this.page.keyboard.press('Enter');
    await waitUntil(
      async () => message.test((await this.quickInput().innerText().catch(() => '')).replace(/\u00a0/g, ' ')),
      10_000,
      `the quick input to stay open and say ${message}`,
    );
    assert.ok(await this.quickInput().isVisible(), 'the quick input is still open');
  }

  /** Opens a file of the workspace with Quick Open, as the active editor. */
  async openFile(name: string): Promise<void> {
    await this.page.keyboard.press('Control+P');
    const input = this.quickInput().locator('.quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(name);
    await this.quickInput().locator('.monaco-list-row.focused', { hasText: name }).first().waitFor({ timeout: 10_000 });
    await this.page.keyboard.press('Enter');
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 10_000 });
  }

  /** Chooses `button` in the modal dialog that asks `question`. */
  async answerDialog(question: RegExp, button: string): Promise<void> {
    const dialog = this.page.locator('.monaco-dialog-box', { hasText: question }).first();
    await dialog.waitFor({ timeout: 10_000 });
    await dialog.locator('.monaco-button', { hasText: button }).first().click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
  }

  /** In a multi-select quick pick titled `title`, ticks the items labelled `labels`, then accepts. */
  async pickMany(title: string | RegExp, labels: string[]): Promise<void> {
    await this.quickInput().locator('.quick-input-title', { hasText: title }).waitFor({ timeout: 10_000 });
    for (const label of labels) {
      const row = this.quickInput().locator('.monaco-list-row', { hasText: label }).first();
      await row.waitFor({ timeout: 10_000 });
      await row.locator('input[type=checkbox], .quick-input-list-checkbox, .monaco-custom-toggle').first().click();
    }
    await this.quickInput()
      .locator('.quick-input-count', { hasText: `${labels.length} Selected` })
      .waitFor({ timeout: 5_000 })
      .catch(() => undefined);
    await this.quickInput().locator('.monaco-button', { hasText: 'OK' }).first().click();
  }

  /**
   * Answers a file dialog (the simple one VS Code shows in a browser) with a path.
   * `opensAt` is what the dialog shows once it has read the folder it starts in: the
   * folder with a trailing slash, or for a save the suggested file in it. Until then
   * the dialog puts that value back over anything typed, and an Enter pressed
   * meanwhile is taken later, with the value it put back.
   */
  async answerFileDialog(file: string, opensAt: string): Promise<void> {
    const input = this.quickInput().locator('.quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    let shown = '';
    await waitUntil(
      async () => {
        shown = await input.inputValue();
        // The folder's entries (first of all "..") are listed in the same step that
        // sets the value and ends the dialog's reading.
        return shown === opensAt && (await this.quickInput().locator('.monaco-list-row', { hasText: '..' }).count()) > 0;
      },
      10_000,
      `the file dialog to open at ${opensAt} (it shows “${shown}”)`,
    );
    await waitUntil(
      async () => {
        if ((await input.inputValue()) !== file) {
          await input.fill(file);
        }
        return (await input.inputValue()) === file;
      },
      10_000,
      'the file dialog to take the path',
    );
    // Accept with Enter, else the dialog's button. The dialog may still be reading a
    // folder, and may complete what was typed into something else meanwhile: put the
    // path back each time, and try again until it closes.
    const accept = this.quickInput().locator('.quick-input-action .monaco-button, .quick-input-header .monaco-button').first();
    let attempt = 0;
    await waitUntil(
      async () => {
        if (!(await this.quickInput().isVisible())) {
          return true;
        }
        // While the dialog reads a folder it shows progress, and may put its own
        // completion in the box: wait for it to be done, then check the path.
        await this.quickInput()
          .locator('.monaco-progress-container.active')
          .waitFor({ state: 'hidden', timeout: 5_000 })
          .catch(() => undefined);
        if ((await input.inputValue().catch(() => file)) !== file) {
          await input.fill(file).catch(() => undefined);
          return false;
        }
        attempt += 1;
        if (attempt % 2 === 1) {
          await input.press('Enter', { timeout: 2_000 }).catch(() => undefined);
        } else {
          await accept.click({ timeout: 2_000 }).catch(() => undefined);
        }
        return this.quickInput()
          .waitFor({ state: 'hidden', timeout: 1_500 })
          .then(() => true)
          .catch(() => false);
      },
      30_000,
      'the file dialog to accept the path',
    );
  }

  /** Opens the Baton container in the activity bar. */
  async showBatonViews(): Promise<void> {
    const tasksHeader = this.pane('Tasks').locator('.pane-header');
    if (await tasksHeader.isVisible().catch(() => false)) {
      return;
    }
    await this.page.locator('.activitybar .action-item a[aria-label="Baton"], .activitybar .action-label[aria-label="Baton"]').first().click();
    await tasksHeader.waitFor({ timeout: 10_000 });
  }

  /** Drags the side bar's edge so that the views show their descriptions. */
  async widenSideBar(width: number): Promise<void> {
    const box = await this.page.locator('.part.sidebar').boundingBox();
    if (!box || box.width >= width) {
      return;
    }
    await this.resizeSideBar(width);
  }

  /** Drags the side bar's edge until the side bar is `width` pixels wide. */
  async resizeSideBar(width: number): Promise<void> {
    const box = await this.page.locator('.part.sidebar').boundingBox();
    if (!box) {
      return;
    }
    const edge = box.x + box.width + 1;
    const y = box.y + box.height / 2;
    await this.page.mouse.move(edge, y);
    await this.page.mouse.down();
    await this.page.mouse.move(edge + (width - box.width) / 2, y, { steps: 4 });
    await this.page.mouse.move(box.x + width, y, { steps: 4 });
    await this.page.mouse.up();
  }

  pane(title: string): Locator {
    return this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: new RegExp(`^\\s*${title}`, 'i') }) });
  }

  /** A row of a view, by a text it contains. */
  row(pane: string, text: string | RegExp): Locator {
    return this.pane(pane).locator('.monaco-list-row', { hasText: text }).first();
  }

  async rowsOf(pane: string): Promise<string[]> {
    return this.pane(pane)
      .locator('.monaco-list-row')
      .evaluateAll((rows) => rows.map((row) => (row.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }

  async waitForRow(pane: string, text: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
    const row = this.row(pane, text);
    await row.waitFor({ timeout: timeoutMs }).catch(async (error: Error) => {
      throw new Error(`${error.message}\nrows of ${pane}: ${JSON.stringify(await this.rowsOf(pane))}`);
    });
    return row;
  }

  /** Right-clicks a row and chooses `action` from its context menu. */
  async contextMenu(row: Locator, action: string): Promise<void> {
    await row.click({ button: 'right' });
    const menu = this.page.locator('.monaco-menu').first();
    const item = menu.locator('.action-item', { hasText: action }).first();
    await item.waitFor({ timeout: 10_000 });
    // The menu ignores a click that comes too soon after it opened: hover the item,
    // then choose it with the keyboard if the click was not taken.
    await item.hover();
    await item.click();
    if (await menu.isVisible().catch(() => false)) {
      await this.page.keyboard.press('Enter');
    }
    await menu.waitFor({ state: 'hidden', timeout: 5_000 });
  }

  /**
   * The contents of the shown webview panel that holds `selector` (VS Code puts a
   * webview's page in an inner frame of its own frame).
   */
  async webview(selector: string, timeoutMs = 15_000): Promise<FrameLocator> {
    const frames = this.page.locator('iframe.webview.ready');
    let found: FrameLocator | undefined;
    await waitUntil(
      async () => {
        for (let index = 0; index < (await frames.count()); index++) {
          const inner = frames.nth(index).contentFrame().frameLocator('iframe#active-frame');
          if ((await inner.locator(selector).count().catch(() => 0)) > 0) {
            found = inner;
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      `a webview showing ${selector}`,
    );
    return found!;
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  }

  async waitForNotification(text: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
    const toast = this.notification(text);
    await toast.waitFor({ timeout: timeoutMs });
    return toast;
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
  }

  /** The text the active editor shows (its visible lines). */
  async editorText(): Promise<string> {
    const lines = this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
    await lines.waitFor({ timeout: 10_000 });
    return (await lines.innerText()).replace(/\u00a0/g, ' ');
  }

  async waitForEditor(tab: string | RegExp, text: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.page.locator('.tabs-container .tab.active', { hasText: tab }).waitFor({ timeout: timeoutMs });
    let last = '';
    await waitUntil(
      async () => {
        last = await this.editorText().catch(() => '');
        return text.test(last);
      },
      timeoutMs,
      `the editor “${tab}” to show ${text}`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; it shows:\n${last}`);
    });
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, `${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }
}
