//! The environment agents need, sent by the client that starts a run.
//!
//! A daemon outlives the shell that started it: had agents taken the daemon's own
//! environment, a key exported after the daemon started would never reach them. So
//! the client sends the variables Claude Code reads to authenticate and reach the
//! model — and only those, named by one allow-list — with each run. The daemon keeps
//! them in memory for that run's agents and never writes them anywhere; their
//! `Debug` form shows names only, so no log can print a value.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Prefixes of the variables passed: Claude Code's own and the model providers'
/// (Anthropic, Amazon Bedrock, Google Vertex AI, Microsoft Foundry).
pub const PASSED_PREFIXES: &[&str] = &[
    "ANTHROPIC_",
    "CLAUDE_",
    "AWS_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUD_ML_",
    "VERTEX_",
    "AZURE_",
];

/// Variables passed by exact name: proxies (either case) and the certificates a
/// proxy may need.
pub const PASSED_NAMES: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Variables from the client for one run's agents: only names [`passes`] allows.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct AgentEnv(BTreeMap<String, String>);

/// Whether a variable is one agents get from the client.
pub fn passes(name: &str) -> bool {
    PASSED_NAMES.contains(&name) || PASSED_PREFIXES.iter().any(|p| name.starts_with(p))
}

impl AgentEnv {
    /// The passed variables of this process's environment.
    pub fn from_process() -> AgentEnv {
        AgentEnv(std::env::vars().filter(|(name, _)| passes(name)).collect())
    }

    /// The variables, by name.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl TryFrom<BTreeMap<String, String>> for AgentEnv {
    type Error = String;

    fn try_from(vars: BTreeMap<String, String>) -> Result<AgentEnv, String> {
        let refused: Vec<&str> = vars
            .keys()
            .map(String::as_str)
            .filter(|name| !passes(name))
            .collect();
        if !refused.is_empty() {
            return Err(format!(
                "{} not passed to agents; `env` takes only Claude Code's variables \
                 (ANTHROPIC_*, CLAUDE_*, cloud-provider and proxy variables; see docs/protocol.md)",
                refused.join(", ")
            ));
        }
        Ok(AgentEnv(vars))
    }
}

impl From<AgentEnv> for BTreeMap<String, String> {
    fn from(env: AgentEnv) -> Self {
        env.0
    }
}

/// Names only: a value may be a secret.
impl fmt::Debug for AgentEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_claude_code_s_variables_pass() {
        for name in [
            "ANTHROPIC_API_KEY",
            "CLAUDE_CODE_USE_BEDROCK",
            "AWS_SECRET_ACCESS_KEY",
            "CLOUD_ML_REGION",
            "https_proxy",
            "NO_PROXY",
        ] {
            assert!(passes(name), "{name}");
        }
        for name in ["PATH", "HOME", "LD_PRELOAD", "SECRET", "ANTHROPIC"] {
            assert!(!passes(name), "{name}");
        }
    }

    #[test]
    fn another_variable_is_refused_and_values_never_show() {
        let refused = serde_json::from_str::<AgentEnv>(r#"{"PATH":"/x","ANTHROPIC_API_KEY":"k"}"#)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("PATH not passed to agents"), "{refused}");
        let env: AgentEnv = serde_json::from_str(r#"{"ANTHROPIC_API_KEY":"sk-secret"}"#).unwrap();
        assert_eq!(format!("{env:?}"), r#"{"ANTHROPIC_API_KEY"}"#);
    }
}
