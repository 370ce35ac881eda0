/**
 * The wire types of the baton protocol (docs/protocol.md), as the daemon sends them:
 * snake_case fields, camelCase method names under `baton/`. Unknown fields are
 * ignored, so a newer daemon's additions do no harm.
 */

export type TaskStatus = 'available' | 'claimed' | 'in_progress' | 'done' | 'failed' | 'cancelled';

export const TASK_STATUSES: readonly TaskStatus[] = [
  'available',
  'claimed',
  'in_progress',
  'done',
  'failed',
  'cancelled',
];

export interface TaskContext {
  files: string[];
  hints: string;
  parent_task: string | null;
}

export interface TaskResult {
  output: string;
  files_modified: string[];
  files_created: string[];
  error: string | null;
  discoveries: string[];
  subtasks_created: string[];
}

export interface Usage {
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  turns: number;
  duration_ms: number;
}

export interface Task {
  id: string;
  description: string;
  status: TaskStatus;
  priority: number;
  claimed_by: string | null;
  dependencies: string[];
  context: TaskContext;
  result: TaskResult | null;
  created_at: string;
  claimed_at: string | null;
  completed_at: string | null;
  attempts: number;
  failed_dependency?: string;
  usage: Usage;
  session_id?: string;
  permission_denials?: string[];
  /** The model its agent uses; none means the workspace's. */
  model?: string | null;
  /** Where a held task is on its way to the integration branch. */
  stage?: TaskStage | null;
}

/** The stages of a task's way to the integration branch. */
export type TaskStage = 'working' | 'verifying' | 'resolving' | 'reviewing';

export interface Discovery {
  agent_id: string;
  content: string;
  related_task: string | null;
  tags: string[];
  created_at: string;
}

export interface Config {
  max_workers: number;
  model: string;
  task_timeout: number;
  max_attempts: number;
  task_budget_usd: number | null;
  run_budget_usd: number | null;
  agent_command: string;
  agent_args: string[];
  permission_mode: string;
  allowed_tools: string[];
  isolation: 'worktree' | 'shared' | null;
  leader_prompt: string | null;
  worker_prompt: string | null;
  /** Where finished tasks are merged (newer daemons). */
  integration_branch?: string;
  /** The command a task's work must pass before it lands; none lands it unchecked. */
  verify_command?: string | null;
  max_verify_attempts?: number;
  review?: boolean;
  /** Whether a run keeps its merged tasks' branches (newer daemons). */
  keep_branches?: boolean;
}

export type ConfigPatch = Partial<Config>;

export interface ByStatus {
  available: number;
  claimed: number;
  in_progress: number;
  done: number;
  failed: number;
  cancelled: number;
}

export interface Progress {
  total_tasks: number;
  percent_complete: number;
  by_status: ByStatus;
}

export interface AgentStatus {
  id: string;
  task: string | null;
  since: string | null;
  activity: string | null;
  cost_usd: number;
}

/** `plan`: the leader plans and no worker starts; the plan waits to be run (`predefined`). */
export type RunMode = 'leader' | 'predefined' | 'plan';

/** What a run is doing now (newer daemons). */
export type RunPhase = 'planning' | 'working' | 'summarising';

export interface RunStatus {
  mode: RunMode;
  phase?: RunPhase;
  started_at: string;
  cost_usd: number;
  paused_until: string | null;
  stopped: string | null;
  /** Tasks held outside the run that it waits for, when nothing of its own moves it (newer daemons). */
  waiting_for?: OutsideClaim[];
}

/** A task an agent outside the run holds. */
export interface OutsideClaim {
  task_id: string;
  agent_id: string;
  returns_at: string | null;
}

export interface Status {
  goal: string;
  master_plan: string;
  running: boolean;
  progress: Progress;
  agents: AgentStatus[];
  discoveries: Discovery[];
  run: RunStatus | null;
  cost_usd: number;
  last_activity: string | null;
  /** The result of the last run that ended since the daemon started (newer daemons). */
  last_run?: RunResult | null;
  /** Set when the daemon before this one stopped without shutting down (newer daemons). */
  crash?: Crash | null;
}

/** The daemon before this one stopped unexpectedly (it crashed or was killed). */
export interface Crash {
  /** The last moment it was seen working. */
  stopped_at: string;
  /** Its log, relative to the workspace. */
  log_file: string;
  /** A run was going, and this daemon resumed it. */
  run_resumed: boolean;
}

export interface RunResult {
  goal: string;
  tasks_completed: number;
  tasks_failed: number;
  /** Tasks cancelled while the run went; absent from older daemons. */
  tasks_cancelled?: number;
  discoveries: number;
  summary: string;
  cost_usd: number;
  /** The run's number on its board, from 1 (`baton/timeline` takes it). */
  run?: number;
  /** Where the run's markdown report was written, when it could be. */
  report?: string;
  /** Why the run stopped before its work was done, when it did. */
  stopped?: string;
}

/** What kind of agent ran on a lane of the timeline. */
export type AgentKind = 'leader' | 'worker' | 'reviewer' | 'summary';

/** How an agent run ended. */
export type AttemptOutcome =
  | 'done'
  | 'requeued'
  | 'failed'
  | 'stopped'
  | 'cancelled'
  | 'timed_out'
  | 'budget'
  | 'lost';

/** One agent run on a lane (`worker-1`, `leader`, `summary`, `reviewer-1`, …); mirrors
 * `AttemptRecord` of protocol/src/timeline.rs. Open while `ended_at` is null. */
export interface AttemptRecord {
  /** Its place among the board's records; kept when it is sent again at its end. */
  id: number;
  run: number;
  lane: string;
  kind: AgentKind;
  task?: string;
  started_at: string;
  ended_at: string | null;
  outcome: AttemptOutcome | null;
  reason?: string;
  cost_usd: number;
}

/** The answer of `baton/timeline`. */
export interface Timeline {
  /** The run shown; 0 when the board has had none. */
  run: number;
  runs: number;
  /** The run is still going: open records still run. */
  going: boolean;
  attempts: AttemptRecord[];
}

export interface TimelineParams {
  /** The run, from 1; the last when absent. */
  run?: number;
}

export interface RunStarted {
  mode: RunMode;
  goal: string;
  /** What the run starts from: the user's branch brought in, uncommitted changes. */
  notes?: string[];
}

/**
 * What an agent's activity was: the kinds `baton/agentActivity` sends (ActivityKind
 * in the protocol). A later daemon may add kinds: one this version does not know is
 * shown as its text.
 */
export const ActivityKind = {
  started: 'started',
  tool: 'tool',
  text: 'text',
  rateLimited: 'rate_limited',
  finished: 'finished',
} as const;

export type AgentActivityKind = (typeof ActivityKind)[keyof typeof ActivityKind];

export interface AgentActivity {
  agent_id: string;
  task_id: string | null;
  kind: AgentActivityKind | string;
  text: string;
}

export interface StateChange {
  reason: string;
}

export interface DaemonInfo {
  version: string;
  pid: number;
  workspace: string;
  socket: string;
  log_file: string;
}

/** The agents of a run that hold no task and keep a log (`baton/agentLog`). */
export type AgentLogName = 'leader' | 'summary';

export interface TaskLogChunk {
  text: string;
  next_offset: number;
}

export interface SavedState {
  path: string;
  tasks: number;
  discoveries: number;
}

export interface MergeResult {
  message: string;
}

/** How a file changed in a task's work. */
export type FileChange = 'added' | 'modified' | 'deleted';

export interface ChangedFile {
  /** Relative to the repository, with `/`. */
  path: string;
  change: FileChange;
}

/** `baton/taskChanges`: where a task's work is and the files it changed. */
export interface TaskChangesResult {
  task_id: string;
  /** The commit the work started from. */
  base: string;
  /** The commit holding the work; null while an agent works, when it is `worktree`'s files. */
  head: string | null;
  worktree: string | null;
  files: ChangedFile[];
}

export interface NewTask {
  description: string;
  priority?: number;
  dependencies?: string[];
  context_files?: string[];
  hints?: string;
}

/** `baton/editTask`: each member given replaces the task's, the others stay. */
export interface EditTaskParams {
  task_id: string;
  description?: string;
  priority?: number;
  dependencies?: string[];
  context_files?: string[];
  hints?: string;
}

/** `baton/init`: a new goal on a board with finished work archives it, unless `keep`. */
export interface InitParams {
  goal: string;
  master_plan?: string;
  config?: ConfigPatch;
  keep?: boolean;
}

export interface RunParams {
  mode: RunMode;
  goal?: string;
  wait: boolean;
  /** Settings for this run only; the workspace's configuration stays as it is. */
  overrides?: ConfigPatch;
  /** Variables agents need to reach the model (ANTHROPIC_* and the rest); absent, the daemon's own. */
  env?: Record<string, string>;
}

/** What an error is about (`data.cause`), where the extension offers its own way out. */
export type ErrorCause = 'run_going' | 'no_goal' | 'nothing_to_run' | 'not_a_git_repository';

/** The `data` of a daemon error. */
export interface ErrorData {
  kind?: string;
  cause?: ErrorCause;
}

/** Work-done progress values (`$/progress`), as LSP defines them. */
export type WorkDoneProgressValue =
  | { kind: 'begin'; title: string; message?: string; percentage?: number; cancellable?: boolean }
  | { kind: 'report'; message?: string; percentage?: number; cancellable?: boolean }
  | { kind: 'end'; message?: string };

/** Request method names. A method marked "no params" is sent without `params`. */
export const Method = {
  init: 'baton/init',
  configure: 'baton/configure',
  getConfig: 'baton/getConfig', // no params
  start: 'baton/start', // no params
  stop: 'baton/stop', // no params
  addTask: 'baton/addTask',
  listTasks: 'baton/listTasks',
  getTask: 'baton/getTask',
  cancelTask: 'baton/cancelTask',
  retryTask: 'baton/retryTask',
  editTask: 'baton/editTask',
  deleteTask: 'baton/deleteTask',
  listDiscoveries: 'baton/listDiscoveries', // no params
  status: 'baton/status', // no params
  saveState: 'baton/saveState',
  loadState: 'baton/loadState',
  run: 'baton/run',
  taskLog: 'baton/taskLog',
  agentLog: 'baton/agentLog',
  merge: 'baton/merge', // no params
  timeline: 'baton/timeline',
  taskChanges: 'baton/taskChanges',
  daemonInfo: 'baton/daemonInfo', // no params
} as const;

/** Notification method names. */
export const Notification = {
  taskCreated: 'baton/taskCreated',
  taskUpdated: 'baton/taskUpdated',
  taskCompleted: 'baton/taskCompleted',
  taskFailed: 'baton/taskFailed',
  taskDeleted: 'baton/taskDeleted',
  discovery: 'baton/discovery',
  agentActivity: 'baton/agentActivity',
  runStarted: 'baton/runStarted',
  runFinished: 'baton/runFinished',
  attempt: 'baton/attempt',
  stateChanged: 'baton/stateChanged',
} as const;

export const TASK_NOTIFICATIONS: readonly string[] = [
  Notification.taskCreated,
  Notification.taskUpdated,
  Notification.taskCompleted,
  Notification.taskFailed,
];

export function isFinished(status: TaskStatus): boolean {
  return status === 'done' || status === 'failed' || status === 'cancelled';
}

export function isHeld(status: TaskStatus): boolean {
  return status === 'claimed' || status === 'in_progress';
}
