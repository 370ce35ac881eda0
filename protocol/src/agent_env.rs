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
        // No process could be started with such a variable: every agent of the run
        // would fail to start.
        if let Some((name, _)) = vars.iter().find(|(name, value)| !passable(name, value)) {
            return Err(format!(
                "the variable {:?} cannot be passed to agents: a name holds no '=', neither a name nor a value a NUL byte, and `NAME=VALUE` is under the {VARIABLE_LIMIT} bytes Linux passes in one variable",
                name.chars().take(60).collect::<String>()
            ));
        }
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

/// The most Linux passes to a program in one `NAME=VALUE` string.
const VARIABLE_LIMIT: usize = 128 * 1024;

fn passable(name: &str, value: &str) -> bool {
    !name.is_empty()
        && !name.contains(['=', '\0'])
        && !value.contains('\0')
        && name.len() + 1 + value.len() < VARIABLE_LIMIT
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
    use serde_json::json;

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

    #[test]
    fn a_variable_no_process_could_be_started_with_is_refused() {
        let long = "v".repeat(VARIABLE_LIMIT);
        for vars in [
            json!({ "ANTHROPIC_A=B": "k" }),
            json!({ "ANTHROPIC_A\0B": "k" }),
            json!({ "ANTHROPIC_API_KEY": "k\0" }),
            json!({ "ANTHROPIC_API_KEY": long }),
        ] {
            let refused = serde_json::from_value::<AgentEnv>(vars)
                .unwrap_err()
                .to_string();
            assert!(refused.contains("cannot be passed to agents"), "{refused}");
            assert!(refused.len() < 400, "{refused}");
        }
        let just_under = "v".repeat(VARIABLE_LIMIT - "ANTHROPIC_API_KEY=".len() - 1);
        assert!(
            serde_json::from_value::<AgentEnv>(json!({ "ANTHROPIC_API_KEY": just_under })).is_ok()
        );
    }
}
