/**
 * What “Baton: Show Changes” opens for a task's changes: for each file, the two
 * sides of a diff (a file at a commit, or in the worktree) and a title. Plain data;
 * src/taskChanges.ts turns the sides into editor URIs.
 */

import { ChangedFile, TaskChangesResult } from './protocol';

/** One side of a diff: a file at a commit, a file on disk, or nothing (added or deleted). */
export type Side = { commit: string; path: string } | { file: string } | { none: true };

export interface FileDiff {
  path: string;
  left: Side;
  right: Side;
  title: string;
}

/** A diff per changed file, in the daemon's order (by path). */
export function fileDiffs(changes: TaskChangesResult): FileDiff[] {
  return changes.files.map((file) => ({
    path: file.path,
    left: file.change === 'added' ? { none: true } : { commit: changes.base, path: file.path },
    right: rightSide(changes, file),
    title: `${file.path} (${changes.task_id}${changes.head === null ? ', working' : ''})`,
  }));
}

function rightSide(changes: TaskChangesResult, file: ChangedFile): Side {
  if (file.change === 'deleted') {
    return { none: true };
  }
  if (changes.head !== null) {
    return { commit: changes.head, path: file.path };
  }
  return { file: `${changes.worktree ?? ''}/${file.path}` };
}

/** The title of the multi-file view of a task's changes. */
export function changesTitle(changes: TaskChangesResult): string {
  const count = changes.files.length;
  const state = changes.head === null ? ' so far' : '';
  return `${changes.task_id}: ${count} ${count === 1 ? 'file' : 'files'} changed${state}`;
}
