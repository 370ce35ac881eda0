/**
 * Which workspace and which `baton` the extension uses, decided as the CLI decides:
 * pure functions over a file-system probe, so that they are tested without one.
 */

import * as path from 'path';

/**
 * The workspace of a folder: the nearest directory at or above it that has a
 * `.baton` directory or a `.git` entry, else the folder itself. The same rule as
 * the CLI's, so that the editor and a terminal in the folder share one daemon.
 */
export function findWorkspaceRoot(folder: string, exists: (p: string) => boolean): string {
  let dir = path.resolve(folder);
  for (;;) {
    if (exists(path.join(dir, '.baton')) || exists(path.join(dir, '.git'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return path.resolve(folder);
    }
    dir = parent;
  }
}

/**
 * Where to look for the `baton` CLI, in order: the configured path; the
 * workspace's own build (`target/debug/baton`, `target/release/baton`, for working
 * on baton itself); every directory of PATH.
 */
export function batonCandidates(configured: string, workspace: string, pathEnv: string | undefined): string[] {
  if (configured.trim() !== '') {
    return [expandHome(configured.trim())];
  }
  const candidates = [
    path.join(workspace, 'target', 'debug', 'baton'),
    path.join(workspace, 'target', 'release', 'baton'),
  ];
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (dir !== '') {
      candidates.push(path.join(dir, 'baton'));
    }
  }
  return candidates;
}

function expandHome(p: string): string {
  const home = process.env.HOME;
  if (home && (p === '~' || p.startsWith('~/'))) {
    return path.join(home, p.slice(1));
  }
  return p;
}
