/**
 * “Baton: Show Changes”: a task's changes in the editor's diff editor, one file, or
 * several in the multi-file changes view. The daemon says where the work is
 * (`baton/taskChanges`); the contents at a commit come from `git show`, through a
 * read-only document provider of the `baton-git` scheme.
 */

import { execFile } from 'child_process';
import * as vscode from 'vscode';
import { chooseTask, CommandContext, TaskArgument } from './commandContext';
import { changesTitle, fileDiffs, Side } from './model/changes';
import { Method, TaskChangesResult } from './model/protocol';

export const GIT_SCHEME = 'baton-git';

/** The most a file shown at a commit may hold. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** The command: a task's changes, from its argument or picked among the tasks an agent took. */
export async function showChanges(ctx: CommandContext, arg: TaskArgument): Promise<void> {
  const task = await chooseTask(ctx, arg, 'Baton: Show Changes', (t) => t.attempts > 0, 'no task has been worked on yet');
  if (!task) {
    return;
  }
  const changes = await ctx.connection.request<TaskChangesResult>(Method.taskChanges, { task_id: task.id });
  const diffs = fileDiffs(changes);
  if (diffs.length === 0) {
    void vscode.window.showInformationMessage(`Baton: ${task.id} changed no files${changes.head === null ? ' yet' : ''}`);
    return;
  }
  const uri = (side: Side, path: string) => sideUri(side, path, ctx.workspace);
  if (diffs.length === 1) {
    const [diff] = diffs;
    await vscode.commands.executeCommand('vscode.diff', uri(diff.left, diff.path), uri(diff.right, diff.path), diff.title, {
      preview: false,
    });
    return;
  }
  const resources = diffs.map((diff) => [
    vscode.Uri.file(`${ctx.workspace}/${diff.path}`),
    uri(diff.left, diff.path),
    uri(diff.right, diff.path),
  ]);
  await vscode.commands.executeCommand('vscode.changes', changesTitle(changes), resources);
}

function sideUri(side: Side, path: string, workspace: string): vscode.Uri {
  if ('file' in side) {
    return vscode.Uri.file(side.file);
  }
  const query = 'commit' in side ? JSON.stringify({ repo: workspace, commit: side.commit }) : JSON.stringify({ repo: workspace });
  return vscode.Uri.from({ scheme: GIT_SCHEME, path: `/${path}`, query });
}

/** A file as a commit has it (`git show COMMIT:PATH`); empty for the side where it is absent. */
export class GitContents implements vscode.TextDocumentContentProvider {
  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { repo, commit } = JSON.parse(uri.query) as { repo: string; commit?: string };
    if (!commit) {
      return Promise.resolve('');
    }
    const spec = `${commit}:${uri.path.replace(/^\//, '')}`;
    return new Promise((resolve, reject) => {
      execFile('git', ['show', spec], { cwd: repo, maxBuffer: MAX_FILE_BYTES, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`git show ${spec} failed: ${stderr.trim() || error.message}`));
        } else {
          resolve(stdout);
        }
      });
    });
  }
}
