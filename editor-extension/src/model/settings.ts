/** The extension's settings as plain data, and what they mean for a run. */

import { ConfigPatch } from './protocol';

export interface Settings {
  /** The `baton` CLI; empty means: the workspace's build, else PATH. */
  cliPath: string;
  /** The `batond` daemon for the CLI to start; empty lets the CLI find it. */
  daemonPath: string;
  /** Run defaults; 0 or empty keeps the workspace's own setting. */
  maxWorkers: number;
  model: string;
  taskTimeout: number;
  notifyOnTaskFailure: boolean;
  notifyOnRunFinished: boolean;
}

/**
 * The run defaults to apply with `baton/configure` before a run, or undefined when
 * none is set (0 and empty keep what the workspace has).
 */
export function runDefaults(settings: Settings): ConfigPatch | undefined {
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
  return Object.keys(patch).length > 0 ? patch : undefined;
}
