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

/** The parts of the environment that say where programs are. */
export interface ProgramEnv {
  PATH?: string;
  HOME?: string;
  CARGO_HOME?: string;
}

/**
 * Where to look for the `baton` CLI, in order: the configured path; the
 * workspace's own build (`target/debug/baton`, `target/release/baton`, for working
 * on baton itself); every directory of PATH; `$CARGO_HOME/bin` (`~/.cargo/bin` by
 * default), where `cargo install` puts it and which an editor started from a
 * desktop launcher often lacks on its PATH.
 */
export function batonCandidates(configured: string, workspace: string, env: ProgramEnv): string[] {
  if (configured.trim() !== '') {
    return [expandHome(configured.trim(), env.HOME)];
  }
  const candidates = [
    path.join(workspace, 'target', 'debug', 'baton'),
    path.join(workspace, 'target', 'release', 'baton'),
    ...onPath('baton', env.PATH),
  ];
  const cargoHome = env.CARGO_HOME?.trim() || (env.HOME ? path.join(env.HOME, '.cargo') : undefined);
  if (cargoHome) {
    const installed = path.join(cargoHome, 'bin', 'baton');
    if (!candidates.includes(installed)) {
      candidates.push(installed);
    }
  }
  return candidates;
}

/**
 * Where a program named in a setting would be found: itself when it is a path
 * (relative ones from the workspace), else each directory of PATH.
 */
export function programCandidates(program: string, workspace: string, env: ProgramEnv): string[] {
  const name = expandHome(program.trim(), env.HOME);
  if (name.includes('/')) {
    return [path.resolve(workspace, name)];
  }
  return onPath(name, env.PATH);
}

function onPath(name: string, pathEnv: string | undefined): string[] {
  return (pathEnv ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => path.join(dir, name));
}

function expandHome(p: string, home: string | undefined): string {
  if (home && (p === '~' || p.startsWith('~/'))) {
    return path.join(home, p.slice(1));
  }
  return p;
}
