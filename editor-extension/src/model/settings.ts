/** The extension's settings as plain data, and what they mean for a run. */

import { ConfigPatch } from './protocol';

export interface Settings {
  /** The `baton` CLI; empty means: the workspace's build, else PATH, else `$CARGO_HOME/bin`. */
  cliPath: string;
  /** The `batond` daemon for the CLI to start; empty lets the CLI find it. */
  daemonPath: string;
  /** Settings for the runs the editor starts; 0, empty or none keeps the workspace's own. */
  maxWorkers: number;
  model: string;
  taskTimeout: number;
  agentCommand: string;
  permissionMode: string;
  allowedTools: string[];
  taskBudgetUsd: number;
  runBudgetUsd: number;
  /** The command a task's work must pass before it lands; empty keeps the workspace's. */
  verifyCommand: string;
  /** Whether a reviewer reads each task's work before it lands. */
  review: 'workspace' | 'on' | 'off';
  notifyOnTaskFailure: boolean;
  notifyOnRunFinished: boolean;
}

/**
 * The settings sent with a run the editor starts (`overrides` of `baton/run`), or
 * undefined when none is set. They govern that run only: the workspace's
 * configuration, which the CLI and later runs go by, stays as it is.
 */
export function runOverrides(settings: Settings): ConfigPatch | undefined {
  const patch: ConfigPatch = {};
  if (settings.maxWorkers > 0) {
    patch.max_workers = Math.floor(settings.maxWorkers);
  }
  if (settings.model.trim() !== '') {
    patch.model = settings.model.trim();
  }
  if (settings.taskTimeout > 0) {
    patch.task_timeout = Math.floor(settings.taskTimeout);
  }
  if (settings.agentCommand.trim() !== '') {
    patch.agent_command = settings.agentCommand.trim();
  }
  if (settings.permissionMode.trim() !== '') {
    patch.permission_mode = settings.permissionMode.trim();
  }
  const tools = settings.allowedTools.map((tool) => tool.trim()).filter((tool) => tool !== '');
  if (tools.length > 0) {
    patch.allowed_tools = tools;
  }
  if (settings.taskBudgetUsd > 0) {
    patch.task_budget_usd = settings.taskBudgetUsd;
  }
  if (settings.runBudgetUsd > 0) {
    patch.run_budget_usd = settings.runBudgetUsd;
  }
  if (settings.verifyCommand.trim() !== '') {
    patch.verify_command = settings.verifyCommand.trim();
  }
  if (settings.review !== 'workspace') {
    patch.review = settings.review === 'on';
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
