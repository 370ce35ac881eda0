/**
 * The connection to the workspace's daemon: JSON-RPC with LSP framing over its Unix
 * socket, through vscode-languageclient. The daemon is started (or found running)
 * with `baton daemon start --json`, which also says where its socket is. When the
 * daemon goes away, the connection waits for it to come back and reconnects; any
 * request starts it again.
 */

import { execFile } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  StreamInfo,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';

import { ConnectionState } from './model/statusText';
import { DaemonInfo, Method, Notification, WorkDoneProgressValue } from './model/protocol';
import { batonCandidates } from './model/workspace';
import { errorMessage } from './model/messages';
import { readSettings } from './settings';

/** How long `baton daemon start` may take (it waits for the daemon to answer). */
const START_TIMEOUT_MS = 30_000;
/** The longest wait between two attempts to reach a daemon that went away. */
const MAX_RECONNECT_DELAY_MS = 5_000;

/** What the connection reports to the rest of the extension. */
export interface ConnectionEvents {
  /** A notification from the daemon (`baton/*`). */
  notification(method: string, params: unknown): void;
  /** A `$/progress` value of the run's work-done progress. */
  progress(value: WorkDoneProgressValue): void;
  /** The handshake is done: fetch what is mirrored. */
  connected(info: DaemonInfo): void;
  /** The state changed (for the status bar). */
  stateChanged(state: ConnectionState, error?: string): void;
  /** The daemon closed the connection without being asked to (it stopped or died). */
  lost(): void;
}

/** The methods whose notifications are forwarded: every one the protocol has. */
export const FORWARDED_NOTIFICATIONS: readonly string[] = Object.values(Notification);

export class DaemonConnection implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private connecting: Promise<LanguageClient> | undefined;
  private stateValue: ConnectionState = 'absent';
  private infoValue: DaemonInfo | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  private disposed = false;
  /** Set while the extension itself stops the daemon: that closing is no loss. */
  private stopping = false;
  private cliValue: string | undefined;

  constructor(
    readonly workspace: string,
    private readonly output: vscode.LogOutputChannel,
    private readonly events: ConnectionEvents,
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  get info(): DaemonInfo | undefined {
    return this.infoValue;
  }

  /** The `baton` CLI the daemon was started with, once it was. */
  get cli(): string | undefined {
    return this.cliValue;
  }

  /**
   * Sends a request, connecting (and starting the daemon) first when needed.
   * `params` undefined sends none, as the protocol wants for methods without any.
   * Rejects with the daemon's error (its `message` says what to do).
   */
  async request<R>(method: string, params?: object): Promise<R> {
    const client = await this.ensureConnected();
    return params === undefined ? client.sendRequest<R>(method) : client.sendRequest<R>(method, params);
  }

  /** The connected client: the running daemon's, or a daemon started for the workspace. */
  ensureConnected(): Promise<LanguageClient> {
    if (this.client && this.stateValue === 'connected') {
      return Promise.resolve(this.client);
    }
    if (!this.connecting) {
      this.connecting = this.connect(true).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /**
   * Whether baton is in use in the workspace: a daemon was reached, or the workspace
   * has its `.baton` directory. What only looks must not start a daemon otherwise.
   */
  used(): boolean {
    return this.stateValue !== 'absent' || fs.existsSync(`${this.workspace}/.baton`);
  }

  /** Stops the workspace's daemon (when one answers) and starts it again. */
  async restart(): Promise<void> {
    const cli = await this.findCli();
    this.stopping = true;
    try {
      await this.runCli(cli, ['daemon', 'stop']).catch((error: unknown) => this.log(`daemon stop: ${errorMessage(error)}`));
      const client = this.client;
      this.client = undefined;
      await client?.stop(2000).catch(() => undefined);
    } finally {
      this.stopping = false;
    }
    this.setState('disconnected');
    await this.ensureConnected();
  }

  /** Connects at activation when the workspace already uses baton; stays quiet otherwise. */
  async connectIfUsed(): Promise<void> {
    try {
      await fs.promises.access(`${this.workspace}/.baton`);
    } catch {
      return;
    }
    try {
      await this.ensureConnected();
    } catch {
      // Reported through the status bar; the next command tries again.
    }
  }

  private async connect(start: boolean): Promise<LanguageClient> {
    this.clearReconnect();
    this.setState('connecting');
    try {
      const info = start || !this.infoValue ? await this.startDaemon() : this.infoValue;
      const socket = await openSocket(info.socket);
      const client = this.createClient(socket);
      await client.start();
      this.followProgress(client);
      this.client = client;
      this.reconnectAttempts = 0;
      this.infoValue = await client.sendRequest<DaemonInfo>(Method.daemonInfo).catch(() => info);
      this.log(`connected to batond ${this.infoValue.version} (pid ${this.infoValue.pid}) at ${this.infoValue.socket}`);
      this.setState('connected');
      this.events.connected(this.infoValue);
      return client;
    } catch (error) {
      const message = errorMessage(error);
      this.log(`could not connect: ${message}`);
      this.setState(this.infoValue ? 'disconnected' : 'absent', message);
      if (this.infoValue) {
        this.scheduleReconnect();
      }
      throw new Error(message);
    }
  }

  /** Where the `baton` CLI is, or the places looked in when it is nowhere. */
  async locateCli(): Promise<{ path: string } | { tried: string[] }> {
    const candidates = batonCandidates(readSettings().cliPath, this.workspace, process.env);
    const cli = await findExecutable(candidates);
    return cli ? { path: cli } : { tried: candidates };
  }

  /** The `baton` CLI: the setting, else the first of the usual places that has it. */
  private async findCli(): Promise<string> {
    const settings = readSettings();
    const candidates = batonCandidates(settings.cliPath, this.workspace, process.env);
    const cli = await findExecutable(candidates);
    if (!cli) {
      throw new Error(
        settings.cliPath
          ? `the baton CLI “${settings.cliPath}” (setting baton.path) is not an executable file; fix the setting`
          : `the baton CLI was not found; install it (\`cargo install --path cli\`) or set “baton.path”. Looked for: ${candidates.join(', ')}`,
      );
    }
    return cli;
  }

  /** Runs `baton -C <workspace> ARGS` and answers what it printed. */
  private runCli(cli: string, args: string[]): Promise<string> {
    const settings = readSettings();
    const env = { ...process.env };
    if (settings.daemonPath.trim() !== '') {
      env.BATON_DAEMON = settings.daemonPath.trim();
    }
    this.log(`${cli} -C ${this.workspace} ${args.join(' ')}`);
    return new Promise<string>((resolve, reject) => {
      execFile(cli, ['-C', this.workspace, ...args], { env, timeout: START_TIMEOUT_MS, maxBuffer: 1 << 20 }, (error, out, err) => {
        if (error) {
          const said = String(err).trim().replace(/^error:\s*/i, '');
          reject(new Error(said || error.message));
        } else {
          resolve(String(out));
        }
      });
    });
  }

  /** Runs `baton -C <workspace> daemon start --json`: starts the daemon unless one runs. */
  private async startDaemon(): Promise<DaemonInfo> {
    const cli = await this.findCli();
    this.cliValue = cli;
    const stdout = await this.runCli(cli, ['daemon', 'start', '--json']);
    try {
      return JSON.parse(stdout) as DaemonInfo;
    } catch {
      throw new Error(`\`baton daemon start --json\` printed something that is not JSON: ${stdout.slice(0, 200)}`);
    }
  }

  private createClient(socket: net.Socket): LanguageClient {
    const serverOptions = (): Promise<StreamInfo> => Promise.resolve({ reader: socket, writer: socket });
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      initializationOptions: { events: true },
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      connectionOptions: { maxRestartCount: 0 },
      initializationFailedHandler: () => false,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          this.lost();
          return {
            action: CloseAction.DoNotRestart,
            handled: true,
            message: 'the daemon closed the connection; the extension reconnects when it is back',
          };
        },
      },
    };
    const client = new LanguageClient('baton', 'Baton', serverOptions, clientOptions);
    for (const method of FORWARDED_NOTIFICATIONS) {
      client.onNotification(method, (params: unknown) => this.events.notification(method, params));
    }
    return client;
  }

  /**
   * Follows the run's work-done progress: the daemon asks to create a token, then
   * reports on it with `$/progress`.
   */
  private followProgress(client: LanguageClient): void {
    client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
      try {
        const subscription = client.onProgress(WorkDoneProgress.type, params.token, (value) => {
          this.events.progress(value as WorkDoneProgressValue);
          if (value.kind === 'end') {
            subscription.dispose();
          }
        });
      } catch {
        // A token already followed.
      }
    });
  }

  /** The daemon closed the connection (it stopped, crashed or restarts). */
  private lost(): void {
    const client = this.client;
    this.client = undefined;
    if (this.disposed || !client) {
      return;
    }
    this.log('the daemon closed the connection; reconnecting when it is back');
    this.setState('disconnected');
    if (!this.stopping) {
      this.events.lost();
    }
    this.scheduleReconnect();
  }

  /** Tries the socket again and again, with a growing pause, until the daemon answers. */
  private scheduleReconnect(): void {
    if (this.disposed || this.reconnectTimer) {
      return;
    }
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 250 * 2 ** this.reconnectAttempts);
    this.reconnectAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.tryReconnect();
    }, delay);
  }

  private async tryReconnect(): Promise<void> {
    if (this.disposed || this.stateValue !== 'disconnected' || this.connecting || !this.infoValue) {
      return;
    }
    if (!(await canConnect(this.infoValue.socket))) {
      this.scheduleReconnect();
      return;
    }
    this.connecting = this.connect(false).finally(() => {
      this.connecting = undefined;
    });
    await this.connecting.catch(() => undefined);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
  }

  private setState(state: ConnectionState, error?: string): void {
    this.stateValue = state;
    this.events.stateChanged(state, error);
  }

  private log(line: string): void {
    this.output.info(`[connection] ${line}`);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.clearReconnect();
    const client = this.client;
    this.client = undefined;
    if (client) {
      // Leaves the connection the LSP way; the daemon keeps running for other clients.
      await client.stop(2000).catch(() => undefined);
    }
  }
}

/** The first candidate that is an executable file. */
export async function findExecutable(candidates: string[]): Promise<string | undefined> {
  for (const candidate of candidates) {
    try {
      const stat = await fs.promises.stat(candidate);
      if (stat.isFile()) {
        await fs.promises.access(candidate, fs.constants.X_OK);
        return candidate;
      }
    } catch {
      // Not there; try the next.
    }
  }
  return undefined;
}

function openSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const failed = (error: Error): void => reject(new Error(`cannot reach the daemon at ${path}: ${error.message}`));
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.off('error', failed);
      // Errors after this end the connection, which the client reports as closed.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** Whether something accepts connections at the socket (the probe is closed at once). */
function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
