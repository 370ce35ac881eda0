//! Secrets kept out of what baton writes. An agent (and its verify command) has keys
//! and tokens in its environment: the client's model variables, or the daemon's own.
//! A Bash step that prints the environment, or a build that echoes its settings,
//! would put them in the agent's output; each is replaced by its name before that
//! output reaches the task's log, its result, or the notifications.

use std::borrow::Cow;

use super::process::Environment;

/// Values shorter than this are not taken for secrets: replacing them would garble
/// ordinary text, and no real key is that short.
const SHORTEST: usize = 8;

/// Words in a variable's name that say its value is a credential.
const SECRET_WORDS: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH"];

/// The secret values of one agent's environment, each with what replaces it.
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// The secrets of an agent started with `env` by this daemon.
    pub fn of(env: &Environment) -> Secrets {
        let own = std::env::vars().filter(|(name, _)| !env.unset.contains(name));
        Secrets::among(own.chain(env.set.iter().cloned()))
    }

    fn among(vars: impl Iterator<Item = (String, String)>) -> Secrets {
        let mut found: Vec<(String, String)> = vars
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
}
