/** What “Show Changes” opens for each file of a task's changes. */

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { changesTitle, fileDiffs } from '../../src/model/changes';
import { TaskChangesResult } from '../../src/model/protocol';

const landed: TaskChangesResult = {
  task_id: 'task-002',
  base: 'b0',
  head: 'h1',
  worktree: null,
  files: [
    { path: 'README.md', change: 'modified' },
    { path: 'old.txt', change: 'deleted' },
    { path: 'src/new.js', change: 'added' },
  ],
};

test('a landed task: each file from the commit it started from to its work, nothing where a file is absent', () => {
  assert.deepEqual(
    fileDiffs(landed).map((diff) => [diff.path, diff.left, diff.right]),
    [
      ['README.md', { commit: 'b0', path: 'README.md' }, { commit: 'h1', path: 'README.md' }],
      ['old.txt', { commit: 'b0', path: 'old.txt' }, { none: true }],
      ['src/new.js', { none: true }, { commit: 'h1', path: 'src/new.js' }],
    ],
  );
  assert.equal(fileDiffs(landed)[0].title, 'README.md (task-002)');
  assert.equal(changesTitle(landed), 'task-002: 3 files changed');
});

test('a task at work: the worktree’s files are the right side', () => {
  const working: TaskChangesResult = {
    ...landed,
    head: null,
    worktree: '/repo/.baton/worktrees/task-002',
    files: [{ path: 'README.md', change: 'modified' }],
  };
  const [diff] = fileDiffs(working);
  assert.deepEqual(diff.right, { file: '/repo/.baton/worktrees/task-002/README.md' });
  assert.equal(diff.title, 'README.md (task-002, working)');
  assert.equal(changesTitle(working), 'task-002: 1 file changed so far');
});
