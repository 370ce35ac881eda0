/**
 * The environment agents need, sent with each run the editor starts: the variables
 * Claude Code reads to authenticate and reach the model, and only those. Mirrors
 * protocol/src/agent_env.rs (`PASSED_PREFIXES`, `PASSED_NAMES`): the daemon refuses
 * any other name.
 */

/** Prefixes of the variables passed: Claude Code's own and the model providers'. */
const PASSED_PREFIXES: readonly string[] = [
  'ANTHROPIC_',
  'CLAUDE_',
  'AWS_',
  'GOOGLE_',
  'GCLOUD_',
  'CLOUD_ML_',
  'VERTEX_',
  'AZURE_',
];

/** Variables passed by exact name: proxies (either case) and their certificates. */
const PASSED_NAMES: readonly string[] = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** The variables of `env` that a run's agents get from the editor. */
export function agentEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (PASSED_NAMES.includes(name) || PASSED_PREFIXES.some((prefix) => name.startsWith(prefix)))) {
      passed[name] = value;
    }
  }
  return passed;
}
