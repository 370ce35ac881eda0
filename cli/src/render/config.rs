//! The workspace's settings: `baton config`.

use super::Fields;
use baton_protocol::Config;
use console::{style, truncate_str};
use serde_json::Value;

/// Every setting, one per line, for `baton config`.
pub fn config(config: &Config) -> String {
    let Ok(Value::Object(settings)) = serde_json::to_value(config) else {
        return String::new();
    };
    let mut fields = Fields::default();
    for (key, value) in &settings {
        fields.add(key.clone(), one_line_value(key, value));
    }
    fields.render()
}

/// One setting's value in full, for `baton config KEY`.
pub fn config_value(key: &str, value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => unset_setting(key).to_owned(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        // As they are set: `baton config review on`.
        Value::Bool(true) => "on".to_owned(),
        Value::Bool(false) => "off".to_owned(),
        other => other.to_string(),
    }
}

/// The settings that differ between `before` and `after`, each `key: old → new`
/// with values cut to a line: what `baton load` brought back with a board.
pub fn changed_settings(before: &Config, after: &Config) -> Vec<String> {
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let short = |key: &str, value: &Value| {
        let full = config_value(key, value);
        let first = full.lines().next().unwrap_or_default();
        truncate_str(first, 50, "…").into_owned()
    };
    after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, value)| {
            let was = before.get(key).unwrap_or(&Value::Null);
            format!("{key}: {} → {}", short(key, was), short(key, value))
        })
        .collect()
}

/// A setting's value cut to one line, so that long prompts do not flood the list.
fn one_line_value(key: &str, value: &Value) -> String {
    let full = config_value(key, value);
    let lines = full.lines().count();
    if lines > 1 {
        let first = truncate_str(full.lines().next().unwrap_or_default(), 50, "…");
        format!("{first} {}", style(format!("({lines} lines)")).dim())
    } else if value.is_null() {
        style(full).dim().to_string()
    } else {
        full
    }
}

/// What an unset optional setting means.
fn unset_setting(key: &str) -> &'static str {
    match key {
        "isolation" => "automatic (worktree in a git repository, else shared)",
        "leader_prompt" | "worker_prompt" | "reviewer_prompt" => "built-in",
        _ => "none",
    }
}
