/**
 * Keeps the store in step with the daemon: a full fetch when the connection opens
 * or the daemon says so, and the notifications in between.
 */

import { DaemonConnection } from './connection';
import { Discovery, Method, Status, Task } from './model/protocol';
import { Store } from './model/store';

/** How often a fetch is repeated when notifications arrived while it was under way. */
const MAX_FETCH_ROUNDS = 3;

export class StateSync {
  private inflight: Promise<void> | undefined;
  private again = false;
  private dirty = false;

  constructor(
    private readonly connection: DaemonConnection,
    private readonly store: Store,
  ) {}

  /** One notification from the daemon. */
  notification(method: string, params: unknown): void {
    const outcome = this.store.applyNotification(method, params);
    if (outcome === 'refetch') {
      void this.refresh().catch(() => undefined);
    } else if (outcome === 'applied' && this.inflight) {
      this.dirty = true;
    }
  }

  /** Fetches the state again; calls made meanwhile share the fetch (and one more round). */
  refresh(): Promise<void> {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = this.fetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** The store, loaded: connects (starting the daemon) and fetches when needed. */
  async ensureLoaded(): Promise<Store> {
    await this.connection.ensureConnected();
    if (!this.store.loaded) {
      await this.refresh();
    }
    return this.store;
  }

  private async fetch(): Promise<void> {
    for (let round = 0; round < MAX_FETCH_ROUNDS; round++) {
      this.again = false;
      this.dirty = false;
      const [status, tasks, discoveries] = await Promise.all([
        this.connection.request<Status>(Method.status),
        this.connection.request<Task[]>(Method.listTasks, {}),
        this.connection.request<Discovery[]>(Method.listDiscoveries),
      ]);
      this.store.reset({ status, tasks, discoveries });
      if (!this.again && !this.dirty) {
        return;
      }
    }
  }
}
