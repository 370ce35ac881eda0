/**
 * What "Baton: Check Setup" found out about what the agents need, as one report:
 * pure, so that every combination is tested without the programs.
 */

export interface SetupFindings {
  /** The agents' program as configured (`claude` unless changed). */
  agentCommand: string;
  /** Where it was found, if it was. */
  agentPath?: string;
  /** What `<agent> --version` printed, if it ran. */
  agentVersion?: string;
  /** Whether ANTHROPIC_API_KEY is set in the editor's environment. */
  apiKey: boolean;
  /** Whether Claude Code keeps a login of its own (`~/.claude/.credentials.json`). */
  login: boolean;
  /** The baton CLI the extension found, if it did, else the places it looked. */
  baton: { path: string } | { tried: string[] };
}

export interface SetupReport {
  /** Nothing is missing: a run can start. */
  ready: boolean;
  lines: string[];
}

export function setupReport(found: SetupFindings): SetupReport {
  const lines: string[] = [];
  let ready = true;
  if ('path' in found.baton) {
    lines.push(`✓ baton: ${found.baton.path}`);
  } else {
    ready = false;
    lines.push(`✗ baton was not found (looked for ${found.baton.tried.join(', ')}); install it with \`cargo install --path cli\` or set “Baton: Path”`);
  }
  if (found.agentPath) {
    const version = found.agentVersion ? ` (${found.agentVersion.trim()})` : '';
    lines.push(`✓ Claude Code: ${found.agentPath}${version}`);
  } else {
    ready = false;
    lines.push(
      `✗ the agents' program “${found.agentCommand}” was not found; install Claude Code (\`npm install -g @anthropic-ai/claude-code\`) or set “Baton › Agent: Command”`,
    );
  }
  if (found.apiKey) {
    lines.push('✓ ANTHROPIC_API_KEY is set');
  } else if (found.login) {
    lines.push('✓ Claude Code has a login of its own');
  } else {
    ready = false;
    lines.push(
      '✗ no ANTHROPIC_API_KEY in the editor’s environment and no Claude Code login: run `claude` once in a terminal and log in, or start the editor with ANTHROPIC_API_KEY set',
    );
  }
  return { ready, lines };
}
