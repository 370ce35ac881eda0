//! Secrets kept out of what baton writes. An agent (and its verify command) has keys
//! and tokens in its environment: the client's model variables, or the daemon's own.
//! A Bash step that prints the environment, or a build that echoes its settings,
//! would put them in the agent's output, and an agent may copy one into what it
//! sends through baton's tools (a discovery, a task's description, a review's
//! reasons). Each is replaced by its variable's name before it reaches a log, the
//! state or a notification: the daemon hides them in what agents print, the MCP
//! bridge in what their tools send.

use std::borrow::Cow;

use serde_json::Value;

/// Values shorter than this are not taken for secrets: replacing them would garble
/// ordinary text, and no real key is that short.
const SHORTEST: usize = 8;

/// Words in a variable's name that say its value is a credential.
const SECRET_WORDS: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH"];

/// The secret values of one environment, each with what replaces it.
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// The secrets among an environment's variables: those named like a credential
    /// whose value is long enough to be one.
    pub fn among(vars: impl IntoIterator<Item = (String, String)>) -> Secrets {
        let mut found: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, value)| is_secret(name) && value.len() >= SHORTEST)
            .map(|(name, value)| (value, format!("[{name} hidden]")))
            .collect();
        // The longest first, so that a secret holding another is replaced whole.
        found.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        found.dedup_by(|a, b| a.0 == b.0);
        Secrets(found)
    }

    /// `text` with every secret replaced by its variable's name.
    pub fn hide<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for (value, replacement) in &self.0 {
            if text.contains(value.as_str()) {
                text = Cow::Owned(text.replace(value.as_str(), replacement));
            }
        }
        text
    }

    /// Hides the secrets in every string of `value` (the keys of objects are names,
    /// not text, and stay).
    pub fn hide_in(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Cow::Owned(hidden) = self.hide(text) {
                    *text = hidden;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.hide_in(item)),
            Value::Object(members) => members.values_mut().for_each(|item| self.hide_in(item)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(vars: &[(&str, &str)]) -> Secrets {
        Secrets::among(
            vars.iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        )
    }

    #[test]
    fn keys_and_tokens_are_replaced_by_their_names_and_the_rest_is_kept() {
        let secrets = secrets(&[
            ("ANTHROPIC_API_KEY", "sk-ant-api03-abcdef"),
            ("GITHUB_TOKEN", "ghp_0123456789"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:4000"),
            ("AWS_SECRET_ACCESS_KEY", "short"),
        ]);
        let line = r#"{"output":"ANTHROPIC_API_KEY=sk-ant-api03-abcdef\nGITHUB_TOKEN=ghp_0123456789\nANTHROPIC_BASE_URL=http://127.0.0.1:4000 short"}"#;
        let hidden = secrets.hide(line);
        assert_eq!(
            hidden,
            r#"{"output":"ANTHROPIC_API_KEY=[ANTHROPIC_API_KEY hidden]\nGITHUB_TOKEN=[GITHUB_TOKEN hidden]\nANTHROPIC_BASE_URL=http://127.0.0.1:4000 short"}"#
        );
        serde_json::from_str::<serde_json::Value>(&hidden).expect("still JSON");
    }

    #[test]
    fn a_secret_holding_another_is_replaced_whole() {
        let secrets = secrets(&[("A_KEY", "abcdefgh"), ("B_TOKEN", "abcdefgh-and-more")]);
        assert_eq!(
            secrets.hide("x abcdefgh-and-more y"),
            "x [B_TOKEN hidden] y"
        );
        assert!(matches!(secrets.hide("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_string_of_a_request_is_hidden_and_its_names_and_numbers_stay() {
        let secrets = secrets(&[("GITHUB_TOKEN", "ghp_0123456789")]);
        let mut params = serde_json::json!({
            "description": "push with ghp_0123456789",
            "priority": 3,
            "context_files": ["a.txt", "ghp_0123456789.txt"],
            "ghp_0123456789": null,
        });
        secrets.hide_in(&mut params);
        assert_eq!(
            params,
            serde_json::json!({
                "description": "push with [GITHUB_TOKEN hidden]",
                "priority": 3,
                "context_files": ["a.txt", "[GITHUB_TOKEN hidden].txt"],
                "ghp_0123456789": null,
            })
        );
    }
}
