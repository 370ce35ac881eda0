/**
 * The colours of the plan graph: theme colours (the `--vscode-*` CSS variables a
 * webview gets from the editor), so that the graph follows a light, dark or high
 * contrast theme without knowing which it is.
 */

import { TaskStage, TaskStatus } from '../model/protocol';

const BY_STATUS: Record<TaskStatus, string> = {
  available: 'var(--vscode-descriptionForeground)',
  claimed: 'var(--vscode-charts-yellow)',
  in_progress: 'var(--vscode-charts-blue)',
  done: 'var(--vscode-charts-green)',
  failed: 'var(--vscode-charts-red)',
  cancelled: 'var(--vscode-disabledForeground)',
};

/** A held task past its work (verifying, resolving, reviewing). */
const PAST_WORK = 'var(--vscode-charts-purple)';

/** The critical path's edges and outlines. */
export const CRITICAL_ACCENT = 'var(--vscode-charts-orange)';

/** The colour of a task's status, as a CSS value. */
export function statusAccent(status: TaskStatus, stage?: TaskStage): string {
  if (stage && stage !== 'working' && (status === 'claimed' || status === 'in_progress')) {
    return PAST_WORK;
  }
  return BY_STATUS[status];
}

/** The legend: each status with its colour, in the order a task goes through them. */
export function legend(): { status: TaskStatus; accent: string }[] {
  return (Object.keys(BY_STATUS) as TaskStatus[]).map((status) => ({ status, accent: BY_STATUS[status] }));
}
