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
            .flat_map(|(name, value)| {
                let replacement = format!("[{name} hidden]");
                printed_forms(&value)
                    .into_iter()
                    .map(move |form| (form, replacement.clone()))
            })
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

    /// `line`, a line an agent printed, with every secret hidden, also those that
    /// only its JSON's escapes spell out: a password holding a quote or a backslash
    /// is printed escaped, and so is a key written with `\u` escapes. A line that
    /// holds no escape, or is not JSON, is text and hidden as such.
    pub fn hide_json_line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let hidden = self.hide(line);
        if self.0.is_empty() || !hidden.contains('\\') {
            return hidden;
        }
        let Ok(mut value) = serde_json::from_str::<Value>(&hidden) else {
            return hidden;
        };
        if self.hide_in(&mut value) {
            Cow::Owned(value.to_string())
        } else {
            hidden
        }
    }

    /// Hides the secrets in every string of `value` (the keys of objects are names,
    /// not text, and stay); answers whether it hid any.
    pub fn hide_in(&self, value: &mut Value) -> bool {
        match value {
            Value::String(text) => match self.hide(text) {
                Cow::Owned(hidden) => {
                    *text = hidden;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |hid, item| self.hide_in(item) | hid),
            Value::Object(members) => members
                .values_mut()
                .fold(false, |hid, item| self.hide_in(item) | hid),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
}

/// The ways a value is printed: as it is, escaped inside double quotes (C,
/// JSON, `declare -p` in a shell, which escapes `$` and backquotes too) or single
/// quotes (Python's `repr`), and, for a value of many lines (a PEM key), each line
/// long enough to be a secret of its own, as a tool that prints it line by line or
/// numbers its lines shows it.
fn printed_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    for quotes in [&['"'][..], &['\''], &['"', '$', '`']] {
        forms.push(escaped(value, quotes));
    }
    if value.contains('\n') {
        forms.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|line| line.len() >= SHORTEST)
                .map(str::to_owned),
        );
    }
    forms.sort();
    forms.dedup();
    forms
}

/// `value` with backslashes, line ends, tabs and `quotes` escaped by a backslash.
fn escaped(value: &str, quotes: &[char]) -> String {
    let mut escaped = String::with_capacity(value.len() + 8);
    for character in value.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            quote if quotes.contains(&quote) => {
                escaped.push('\\');
                escaped.push(quote);
            }
            other => escaped.push(other),
        }
    }
    escaped
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
    fn a_secret_that_only_the_json_escapes_spell_out_is_hidden_too() {
        let secrets = secrets(&[
            ("ANTHROPIC_API_KEY", "sk-ant-api03-abcdef"),
            ("DB_PASSWORD", r#"pa"ss\word"#),
        ]);
        let escaped = r#"{"type":"user","text":"key \u0073k-ant-api03-abcdef, db pa\"ss\\word"}"#;
        let hidden = secrets.hide_json_line(escaped);
        let read: Value = serde_json::from_str(&hidden).expect("still JSON");
        assert_eq!(
            read["text"],
            "key [ANTHROPIC_API_KEY hidden], db [DB_PASSWORD hidden]"
        );
        // A line with nothing to hide is kept as printed, byte for byte.
        let plain = r#"{"text":"line one\nline two", "b": 1}"#;
        assert!(matches!(secrets.hide_json_line(plain), Cow::Borrowed(_)));
        assert_eq!(
            secrets.hide_json_line(r#"not json \ sk-ant-api03-abcdef"#),
            r#"not json \ [ANTHROPIC_API_KEY hidden]"#
        );
    }

    #[test]
    fn a_secret_printed_escaped_by_a_shell_or_python_or_line_by_line_is_hidden() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";
        let secrets = secrets(&[("DB_PASSWORD", r#"pa"s$s\wo'rd"#), ("TLS_KEY", key)]);
        for printed in [
            r#"declare -x DB_PASSWORD="pa\"s\$s\\wo'rd""#,
            r#"{'DB_PASSWORD': 'pa"s$s\\wo\'rd'}"#,
            r#"pass = "pa\"s$s\\wo'rd""#,
        ] {
            let hidden = secrets.hide(printed);
            assert!(
                hidden.contains("[DB_PASSWORD hidden]") && !hidden.contains("rd"),
                "{printed} became {hidden}"
            );
        }
        let escaped = r#"TLS_KEY='-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n'"#;
        assert_eq!(secrets.hide(escaped), "TLS_KEY='[TLS_KEY hidden]'");
        let numbered =
            "  2  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n  3  BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
        let hidden = secrets.hide(numbered);
        assert!(
            !hidden.contains("MIIE") && !hidden.contains("BKcw"),
            "{hidden}"
        );
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
