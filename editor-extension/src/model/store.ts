/**
 * The extension's mirror of the daemon's state: filled from a fetch when the
 * connection opens (or the daemon says to fetch again), then kept current by the
 * daemon's notifications. Plain data, no editor API, so that it can be tested alone.
 */

import {
  ActivityKind,
  AgentActivity,
  ByStatus,
  Discovery,
  isHeld,
  Notification,
  RunPhase,
  RunResult,
  RunStarted,
  Status,
  Task,
  TASK_STATUSES,
  WorkDoneProgressValue,
} from './protocol';

export interface Snapshot {
  status: Status;
  tasks: Task[];
  discoveries: Discovery[];
}

/** How far the run has come, as the daemon's `$/progress` last said. */
export interface RunProgress {
  title?: string;
  message?: string;
  percentage?: number;
}

export type Listener = () => void;

export class Store {
  private tasksById = new Map<string, Task>();
  private discoveryList: Discovery[] = [];
  private statusValue: Status | undefined;
  /** Agents of the daemon that have started and not yet finished, with their task. */
  private agents = new Map<string, string | null>();
  private runActiveValue = false;
  private progressValue: RunProgress | undefined;
  private lastRunValue: RunResult | undefined;
  private runModeValue: RunStarted['mode'] | undefined;
  private staleValue = false;
  private listeners = new Set<Listener>();

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces everything with a fresh fetch. */
  reset(snapshot: Snapshot): void {
    this.tasksById = new Map(snapshot.tasks.map((task) => [task.id, task]));
    this.discoveryList = [...snapshot.discoveries];
    this.statusValue = snapshot.status;
    this.runActiveValue = snapshot.status.run !== null;
    this.runModeValue = snapshot.status.run?.mode;
    this.staleValue = false;
    this.agents = new Map();
    for (const agent of snapshot.status.agents) {
      this.agents.set(agent.id, agent.task);
    }
    if (!this.runActiveValue) {
      this.progressValue = undefined;
    }
    this.changed();
  }

  /** A task notification: created, updated, completed or failed. */
  applyTask(task: Task): void {
    this.tasksById.set(task.id, task);
    if (!isHeld(task.status) && task.claimed_by !== null && this.agents.get(task.claimed_by) === task.id) {
      this.agents.delete(task.claimed_by);
    }
    this.changed();
  }

  /** A task that was deleted (it had never started). */
  removeTask(task: Task): void {
    this.tasksById.delete(task.id);
    this.changed();
  }

  addDiscovery(discovery: Discovery): void {
    this.discoveryList.push(discovery);
    this.changed();
  }

  agentActivity(activity: AgentActivity): void {
    if (activity.kind === ActivityKind.finished) {
      this.agents.delete(activity.agent_id);
    } else {
      this.agents.set(activity.agent_id, activity.task_id);
    }
    this.changed();
  }

  runStarted(started: RunStarted): void {
    this.runActiveValue = true;
    this.runModeValue = started.mode;
    this.progressValue = undefined;
    this.changed();
  }

  runFinished(result: RunResult): void {
    this.runActiveValue = false;
    this.lastRunValue = result;
    this.agents.clear();
    this.progressValue = undefined;
    this.changed();
  }

  /** A `$/progress` value of the run's work-done progress. */
  progress(value: WorkDoneProgressValue): void {
    if (value.kind === 'end') {
      this.progressValue = undefined;
      this.runActiveValue = false;
    } else {
      this.runActiveValue = true;
      this.progressValue = {
        title: value.kind === 'begin' ? value.title : this.progressValue?.title,
        message: value.message ?? this.progressValue?.message,
        percentage: value.percentage ?? this.progressValue?.percentage,
      };
    }
    this.changed();
  }

  get loaded(): boolean {
    return this.statusValue !== undefined;
  }

  get status(): Status | undefined {
    return this.statusValue;
  }

  /** Tasks in creation order. */
  get tasks(): Task[] {
    return [...this.tasksById.values()];
  }

  task(id: string): Task | undefined {
    return this.tasksById.get(id);
  }

  get discoveries(): Discovery[] {
    return [...this.discoveryList];
  }

  get runActive(): boolean {
    return this.runActiveValue;
  }

  /**
   * The leader plans and no task is there yet: what the Tasks view says instead
   * of "no tasks".
   */
  get planning(): boolean {
    const plans = this.runModeValue === 'leader' || this.runModeValue === 'plan';
    return this.runActiveValue && plans && this.tasksById.size === 0;
  }

  /**
   * What the run is doing: the daemon's word when it says, else planning while the
   * leader works with no task yet.
   */
  get runPhase(): RunPhase | undefined {
    if (!this.runActiveValue) {
      return undefined;
    }
    return this.statusValue?.run?.phase ?? (this.planning ? 'planning' : undefined);
  }

  /** The daemon went away: what the mirror shows may be out of date until it is back. */
  get stale(): boolean {
    return this.staleValue;
  }

  setStale(stale: boolean): void {
    if (this.staleValue !== stale) {
      this.staleValue = stale;
      this.changed();
    }
  }

  get runProgress(): RunProgress | undefined {
    return this.progressValue;
  }

  get lastRun(): RunResult | undefined {
    return this.lastRunValue;
  }

  /** How many tasks have each status. */
  counts(): ByStatus {
    return countByStatus(this.tasks);
  }

  /**
   * Agents at work: the daemon's agents that started and have not finished (the
   * leader among them), and whoever holds a claimed or in-progress task.
   */
  busyAgents(): string[] {
    const busy = new Set(this.agents.keys());
    for (const task of this.tasksById.values()) {
      if (isHeld(task.status) && task.claimed_by !== null) {
        busy.add(task.claimed_by);
      }
    }
    return [...busy].sort();
  }

  /**
   * Applies one `baton/*` notification. Answers `refetch` when the notification says
   * that the mirror must be fetched again (`baton/stateChanged`), `applied` when it
   * changed the mirror, `ignored` for a method this version does not know.
   */
  applyNotification(method: string, params: unknown): 'applied' | 'refetch' | 'ignored' {
    switch (method) {
      case Notification.taskCreated:
      case Notification.taskUpdated:
      case Notification.taskCompleted:
      case Notification.taskFailed:
        this.applyTask(params as Task);
        return 'applied';
      case Notification.taskDeleted:
        this.removeTask(params as Task);
        return 'applied';
      case Notification.discovery:
        this.addDiscovery(params as Discovery);
        return 'applied';
      case Notification.agentActivity:
        this.agentActivity(params as AgentActivity);
        return 'applied';
      case Notification.runStarted:
        this.runStarted(params as RunStarted);
        return 'applied';
      case Notification.runFinished:
        this.runFinished(params as RunResult);
        return 'applied';
      case Notification.stateChanged:
        return 'refetch';
      default:
        return 'ignored';
    }
  }

  private changed(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}

export function countByStatus(tasks: Iterable<Task>): ByStatus {
  const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as unknown as ByStatus;
  for (const task of tasks) {
    counts[task.status] += 1;
  }
  return counts;
}
