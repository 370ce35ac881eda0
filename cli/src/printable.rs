//! Text from tasks, agents and state files made safe for a terminal. Descriptions,
//! outputs, discoveries and log lines are written by agents (or by whoever wrote a
//! state file): printed raw, an escape sequence in them could retitle the terminal,
//! clear it, move the cursor over what was printed, or hide text. Human output shows
//! every such character as a visible escape instead; `--json` stays exact.

use std::borrow::Cow;

use baton_protocol::printable::is_steering;
pub use baton_protocol::printable::text;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A file name, which is one line: `text`, and the newlines, tabs and line or
/// paragraph separators a name could use to pass for another entry in a list shown
/// as escapes too.
pub fn name(name: &str) -> Cow<'_, str> {
    let breaking = |c: char| matches!(c, '\n' | '\t' | '\u{2028}' | '\u{2029}');
    if !name.chars().any(breaking) {
        return text(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in text(name).chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if breaking(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A protocol object whose every string (keys included) went through `text`, for
/// rendering: the renderer can then print any field as it is. It goes through the
/// object's JSON text, not a tree of JSON values, which for a list of 100,000 tasks
/// took 400 MB.
pub fn object<T: Serialize + DeserializeOwned>(value: &T) -> serde_json::Result<T> {
    let written = serde_json::to_string(value)?;
    serde_json::from_str(&json_text(&written))
}

/// A JSON text as written by serde_json, with every string in it, read, what `text`
/// makes of it: each character that could steer a terminal, whether the text escapes
/// it (the C0 controls, `\u001b`) or holds it raw (DEL, C1, bidirectional), written as
/// its visible escape.
fn json_text(written: &str) -> Cow<'_, str> {
    if !written.contains('\\') && !written.chars().any(is_steering) {
        return Cow::Borrowed(written);
    }
    let mut out = String::with_capacity(written.len() + 64);
    let mut chars = written.chars();
    while let Some(c) = chars.next() {
        let read = match c {
            '\\' => match chars.next() {
                // serde_json escapes only the C0 controls with `\u`.
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(control) if is_steering(control) => control,
                        _ => {
                            out.push_str("\\u");
                            out.push_str(&hex);
                            continue;
                        }
                    }
                }
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some('r') => '\r',
                Some(other) => {
                    // `\n`, `\t`, `\"`, `\\`, `\/`: kept as written.
                    out.push('\\');
                    out.push(other);
                    continue;
                }
                None => break,
            },
            c => c,
        };
        if is_steering(read) {
            for shown in text(&read.to_string()).chars() {
                if shown == '\\' {
                    out.push('\\');
                }
                out.push(shown);
            }
        } else {
            out.push(read);
        }
    }
    Cow::Owned(out)
}

/// Every string in a JSON value, keys included, through `text`, in place.
pub fn json(value: &mut Value) {
    match value {
        Value::String(string) => {
            if let Cow::Owned(clean) = text(string) {
                *string = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::Object(members) => {
            let steered: Vec<String> = members
                .keys()
                .filter(|key| key.chars().any(is_steering))
                .cloned()
                .collect();
            for key in steered {
                if let Some(member) = members.remove(&key) {
                    members.insert(text(&key).into_owned(), member);
                }
            }
            members.values_mut().for_each(json);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_name_stays_on_its_line() {
        assert_eq!(super::name("src/lib.rs"), "src/lib.rs");
        assert_eq!(
            super::name("a.rs\n  src/other.rs\u{2028}b\tc\u{1b}[2J"),
            "a.rs\\n  src/other.rs\\u{2028}b\\tc\\x1b[2J"
        );
    }

    use baton_protocol::{Task, TaskId};
    use serde_json::json;

    use super::*;

    proptest::proptest! {
        #[test]
        fn an_object_read_through_its_text_is_what_its_tree_of_values_gives(
            strings in proptest::collection::vec(
                "[a-z \\\\\"/\n\t\r\u{0}-\u{1f}\u{7f}-\u{9f}\u{202a}-\u{202e}\u{2066}-\u{2069}é✓😀]{0,12}",
                0..6,
            )
        ) {
            let map: std::collections::BTreeMap<String, Vec<String>> = strings
                .iter()
                .map(|key| (key.clone(), strings.clone()))
                .collect();
            let mut tree = serde_json::to_value(&map).unwrap();
            json(&mut tree);
            let from_tree: std::collections::BTreeMap<String, Vec<String>> =
                serde_json::from_value(tree).unwrap();
            proptest::prop_assert_eq!(object(&map).unwrap(), from_tree);
        }
    }

    #[test]
    fn an_object_is_cleaned_in_every_string_and_keeps_its_shape() {
        let mut task: Task = serde_json::from_value(json!({
            "id": "task-\u{1b}[31m1",
            "description": "ring\u{7}",
            "status": "available",
            "priority": 5,
            "dependencies": ["task-\u{0}"],
            "created_at": "2025-03-01T09:00:00Z",
        }))
        .unwrap();
        task = object(&task).unwrap();
        assert_eq!(task.id, TaskId::from("task-\\x1b[31m1"));
        assert_eq!(task.description, "ring\\x07");
        assert_eq!(task.dependencies, [TaskId::from("task-\\0")]);
        assert_eq!(task.priority, 5);
    }
}
