//! The workspace's settings as a person types them: what each means, its default, what
//! kind of value it takes, and how `baton config KEY VALUE…` reads the value. The
//! daemon checks the ranges; this module turns text into the right type and says, with
//! an example, what it expected when it cannot.

use baton_protocol::methods::ConfigPatch;
use baton_protocol::prompts::PLACEHOLDERS;
use baton_protocol::Config;
use serde_json::{Map, Value};

/// What kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A whole number from `least` to `most`, the range the daemon takes.
    Number { least: u64, most: u64 },
    /// An amount of dollars, or none.
    Dollars,
    /// A word or a line of text.
    Text,
    /// A list of words.
    List,
    /// One of a few words, or none.
    Choice(&'static [&'static str]),
    /// A prompt template, or none for the built-in one.
    Prompt,
    /// Text, or none.
    OptionalText,
    /// On or off.
    Switch,
}

/// One setting: its name, kind, meaning, and a value to show as an example.
struct Setting {
    name: &'static str,
    kind: Kind,
    meaning: &'static str,
    example: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        name: "max_workers",
        kind: Kind::Number { least: 1, most: 64 },
        meaning: "how many worker agents run at once",
        example: "4",
    },
    Setting {
        name: "model",
        kind: Kind::Text,
        meaning: "the Claude model the agents use",
        example: "claude-sonnet-4-20250514",
    },
    Setting {
        name: "task_timeout",
        kind: Kind::Number {
            least: 1,
            most: 31_536_000,
        },
        meaning: "seconds an agent may work on one task, and an outside claim may last",
        example: "900",
    },
    Setting {
        name: "max_attempts",
        kind: Kind::Number {
            least: 1,
            most: 100,
        },
        meaning: "attempts per task before it fails; a later one resumes the agent's session",
        example: "2",
    },
    Setting {
        name: "task_budget_usd",
        kind: Kind::Dollars,
        meaning: "dollars one task may cost over its attempts, or none",
        example: "2.50",
    },
    Setting {
        name: "run_budget_usd",
        kind: Kind::Dollars,
        meaning: "dollars one run may cost before it stops, or none",
        example: "20",
    },
    Setting {
        name: "agent_command",
        kind: Kind::Text,
        meaning: "the Claude Code program the agents are",
        example: "claude",
    },
    Setting {
        name: "agent_args",
        kind: Kind::List,
        meaning: "extra arguments for every agent (after `--` when they start with -)",
        example: "-- --verbose",
    },
    Setting {
        name: "permission_mode",
        kind: Kind::Choice(&[
            "default",
            "acceptEdits",
            "plan",
            "bypassPermissions",
            "dontAsk",
        ]),
        meaning: "Claude Code's permission mode for the agents",
        example: "acceptEdits",
    },
    Setting {
        name: "allowed_tools",
        kind: Kind::List,
        meaning: "the tools agents may use without asking",
        example: "Read,Edit,Bash",
    },
    Setting {
        name: "isolation",
        kind: Kind::Choice(&["worktree", "shared"]),
        meaning: "worktree (a git worktree per task) or shared (one checkout); none: automatic",
        example: "shared",
    },
    Setting {
        name: "integration_branch",
        kind: Kind::Text,
        meaning: "the branch finished tasks are merged into",
        example: "baton/integration",
    },
    Setting {
        name: "leader_prompt",
        kind: Kind::Prompt,
        meaning: "the leader's prompt template; none: the built-in one",
        example: "\"Plan {goal} in at most five tasks.\"",
    },
    Setting {
        name: "worker_prompt",
        kind: Kind::Prompt,
        meaning: "the workers' prompt template; none: the built-in one",
        example: "\"You are {agent_id}. Do {task_id}: {description}\"",
    },
    Setting {
        name: "verify_command",
        kind: Kind::OptionalText,
        meaning: "a command that must pass on a task's work before it lands; none: no check",
        example: "\"cargo test -q\"",
    },
    Setting {
        name: "max_verify_attempts",
        kind: Kind::Number {
            least: 1,
            most: 100,
        },
        meaning: "how often a task's work may fail verify_command before the task fails",
        example: "3",
    },
    Setting {
        name: "review",
        kind: Kind::Switch,
        meaning: "whether a reviewer agent reads each task's diff before it lands",
        example: "on",
    },
    Setting {
        name: "reviewer_prompt",
        kind: Kind::Prompt,
        meaning: "the reviewer's prompt template; none: the built-in one",
        example: "\"Review this change: {diff}\"",
    },
    Setting {
        name: "max_review_rounds",
        kind: Kind::Number {
            least: 1,
            most: 100,
        },
        meaning: "how often a reviewer may send a task back before it fails",
        example: "1",
    },
    Setting {
        name: "keep_branches",
        kind: Kind::Switch,
        meaning: "whether a run keeps its merged tasks' branches and idle checkouts; \
                  off: it removes them when it ends, keeping failed tasks' branches",
        example: "on",
    },
];

/// Why a value was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting `{0}`; the settings are {names}", names = names().join(", "))]
    Unknown(String),
    #[error("{0}")]
    Value(String),
}

/// Every setting's name, in the order `baton config` lists them.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SETTINGS.iter().map(|setting| setting.name).collect();
    names.sort_unstable();
    names
}

fn find(key: &str) -> Result<&'static Setting, SettingError> {
    SETTINGS
        .iter()
        .find(|setting| setting.name == key)
        .ok_or_else(|| SettingError::Unknown(key.to_owned()))
}

/// Checks that `key` names a setting.
pub fn known(key: &str) -> Result<(), SettingError> {
    find(key).map(drop)
}

/// The built-in text of a prompt setting, for `--show-default`.
pub fn default_prompt(key: &str) -> Result<&'static str, SettingError> {
    match find(key)?.name {
        "leader_prompt" => Ok(baton_protocol::prompts::LEADER),
        "worker_prompt" => Ok(baton_protocol::prompts::WORKER),
        "reviewer_prompt" => Ok(baton_protocol::prompts::REVIEWER),
        _ => Err(SettingError::Value(format!(
            "{key} has no built-in text to show here; only leader_prompt, worker_prompt and reviewer_prompt do (`baton config --help` gives every default)"
        ))),
    }
}

/// The change that `baton config KEY VALUE…` asks for. A list takes several values,
/// `A,B` or JSON; `none` or `null` unsets an optional setting (a list becomes empty).
pub fn patch(key: &str, values: &[String]) -> Result<ConfigPatch, SettingError> {
    let setting = find(key)?;
    let value = setting.read(values)?;
    let mut object = Map::new();
    object.insert(setting.name.to_owned(), value);
    // A number read may still be too big for its setting's type.
    serde_json::from_value(Value::Object(object)).map_err(|_| setting.wrong(&values.join(" ")))
}

impl Setting {
    /// What the setting takes, with an example.
    fn expected(&self) -> String {
        let what = match self.kind {
            Kind::Number { least, most } => format!("a whole number from {least} to {most}"),
            Kind::Dollars => "an amount of dollars, or none".to_owned(),
            Kind::Text => "a value".to_owned(),
            Kind::List => {
                "a list: A,B or several values (after `--` when one starts with -), or none"
                    .to_owned()
            }
            Kind::Choice(words) if self.optional() => {
                format!("one of {}, or none", words.join(", "))
            }
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::Prompt => "a prompt template, or none for the built-in one".to_owned(),
            Kind::OptionalText => "text, or none".to_owned(),
            Kind::Switch => "on or off".to_owned(),
        };
        format!(
            "{} takes {what}, e.g. `baton config {} {}`",
            self.name, self.name, self.example
        )
    }

    /// Why `said` was not taken: what the setting takes instead.
    fn wrong(&self, said: &str) -> SettingError {
        SettingError::Value(format!(
            "`{said}` does not fit {}: {}",
            self.name,
            self.expected()
        ))
    }

    fn optional(&self) -> bool {
        matches!(self.kind, Kind::Dollars | Kind::Prompt | Kind::OptionalText)
            || self.name == "isolation"
    }

    /// The JSON value `values` stand for.
    fn read(&self, values: &[String]) -> Result<Value, SettingError> {
        if self.kind == Kind::List {
            return list(self.name, values).map(Value::from);
        }
        let [raw] = values else {
            return Err(self.wrong(&values.join(" ")));
        };
        let text = raw.trim();
        // Unset, isolation is shown as `automatic`: what is shown may be typed back.
        let unset =
            matches!(text, "none" | "null") || (self.name == "isolation" && text == "automatic");
        if unset {
            return if self.optional() {
                Ok(Value::Null)
            } else {
                Err(SettingError::Value(format!(
                    "{} cannot be unset: {}",
                    self.name,
                    self.expected()
                )))
            };
        }
        match self.kind {
            Kind::Number { .. } => text
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| self.wrong(raw)),
            Kind::Dollars => text
                .trim_start_matches('$')
                .parse::<f64>()
                .ok()
                .filter(|usd| usd.is_finite())
                .map(Value::from)
                .ok_or_else(|| self.wrong(raw)),
            Kind::Choice(words) if !words.contains(&text) => Err(self.wrong(raw)),
            Kind::Switch => match text {
                "on" | "true" | "yes" => Ok(Value::Bool(true)),
                "off" | "false" | "no" => Ok(Value::Bool(false)),
                _ => Err(self.wrong(raw)),
            },
            Kind::Text | Kind::Choice(_) | Kind::Prompt | Kind::OptionalText | Kind::List => {
                Ok(Value::from(raw.clone()))
            }
        }
    }
}

/// A list as typed: several values, or one that is `A,B`, JSON, or none. One value
/// that starts with `[` is meant as JSON, so it is read as JSON or refused: split at
/// its commas it would become items no one typed.
fn list(name: &str, values: &[String]) -> Result<Vec<String>, SettingError> {
    if values.len() > 1
        && values
            .iter()
            .any(|value| value.trim_start().starts_with('['))
    {
        return Err(SettingError::Value(format!(
            "give {name} as one JSON list ([\"A\",\"B\"]) or as several values (A B), not both"
        )));
    }
    if let [one] = values {
        let one = one.trim();
        if matches!(one, "none" | "null" | "") {
            return Ok(Vec::new());
        }
        if one.starts_with('[') {
            return serde_json::from_str(one).map_err(|_| {
                SettingError::Value(format!(
                    "`{one}` is not a JSON list of strings; write {name} as [\"A\",\"B\"], each item in double quotes, or as A,B"
                ))
            });
        }
        if !one.starts_with('-') && one.contains(',') {
            return Ok(split_at_commas(one));
        }
    }
    Ok(values.to_vec())
}

/// `A,B` as its items, each trimmed: a comma inside parentheses belongs to its
/// item (`Bash(git diff,git log)` is one tool).
fn split_at_commas(typed: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0usize;
    for c in typed.chars() {
        match c {
            ',' if depth == 0 => items.push(String::new()),
            _ => {
                depth = match c {
                    '(' => depth + 1,
                    ')' => depth.saturating_sub(1),
                    _ => depth,
                };
                items.last_mut().expect("one item at least").push(c);
            }
        }
    }
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What `baton config --help` says after the usage: every setting with its meaning
/// and default, how values are read, and the prompts' placeholders.
pub fn help() -> String {
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0) + 2;
    let mut out = String::from("Settings (default in brackets):\n");
    for setting in SETTINGS {
        let default = match &defaults[setting.name] {
            Value::Null if setting.kind == Kind::Prompt => "built-in".to_owned(),
            Value::Null if setting.name == "isolation" => "automatic".to_owned(),
            Value::Null => "none".to_owned(),
            Value::Array(items) if items.is_empty() => "none".to_owned(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            Value::String(text) => text.clone(),
            Value::Bool(true) => "on".to_owned(),
            Value::Bool(false) => "off".to_owned(),
            other => other.to_string(),
        };
        let range = match setting.kind {
            Kind::Number { least, most } => format!(" ({least}..{most})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {:width$}{}{range} [{default}]\n",
            setting.name, setting.meaning
        ));
    }
    out.push_str(
        "\nValues: a number, a word or text as typed, on or off. A list takes A,B, JSON ([\"A\",\"B\"]) \
         or several values; values that start with - go after `--`: \
         `baton config agent_args -- --verbose`. `none` (or `null`) unsets an optional \
         setting and empties a list.\n\nPrompt placeholders (leader_prompt, worker_prompt, reviewer_prompt; \
         `baton config worker_prompt --show-default` prints the built-in prompt to start from):\n",
    );
    for (placeholder, meaning) in PLACEHOLDERS {
        out.push_str(&format!("  {placeholder:17}{meaning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use baton_protocol::Isolation;

    use super::*;

    fn patch_of(key: &str, values: &[&str]) -> Result<ConfigPatch, String> {
        let values: Vec<String> = values.iter().map(|&value| value.to_owned()).collect();
        patch(key, &values).map_err(|err| err.to_string())
    }

    #[test]
    fn every_setting_of_the_configuration_is_described() {
        let Value::Object(config) = serde_json::to_value(Config::default()).unwrap() else {
            panic!("the configuration is an object");
        };
        let mut keys: Vec<&str> = config.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, names());
    }

    #[test]
    fn values_are_read_by_the_settings_kind() {
        assert_eq!(
            patch_of("max_workers", &["5"]).unwrap().max_workers,
            Some(5)
        );
        assert_eq!(
            patch_of("model", &["123"]).unwrap().model.as_deref(),
            Some("123")
        );
        assert_eq!(
            patch_of("task_budget_usd", &["$2.50"])
                .unwrap()
                .task_budget_usd,
            Some(Some(2.5))
        );
        assert_eq!(
            patch_of("isolation", &["shared"]).unwrap().isolation,
            Some(Some(Isolation::Shared))
        );
    }

    #[test]
    fn a_list_takes_commas_json_or_several_values() {
        let tools = Some(vec!["Read".to_owned(), "Write".to_owned()]);
        assert_eq!(
            patch_of("allowed_tools", &["Read,Write"])
                .unwrap()
                .allowed_tools,
            tools
        );
        assert_eq!(
            patch_of("allowed_tools", &["Read, Write"])
                .unwrap()
                .allowed_tools,
            tools
        );
        assert_eq!(
            patch_of("allowed_tools", &[r#"["Read","Write"]"#])
                .unwrap()
                .allowed_tools,
            tools
        );
        assert_eq!(
            patch_of("allowed_tools", &["Read", "Write"])
                .unwrap()
                .allowed_tools,
            tools
        );
        assert_eq!(
            patch_of("agent_args", &["--verbose"]).unwrap().agent_args,
            Some(vec!["--verbose".to_owned()])
        );
        assert_eq!(
            patch_of("agent_args", &["--add-dir", "a,b"])
                .unwrap()
                .agent_args,
            Some(vec!["--add-dir".to_owned(), "a,b".to_owned()])
        );
    }

    #[test]
    fn a_list_that_starts_as_json_but_is_not_a_list_of_strings_is_refused() {
        for typed in [r#"["a", 1]"#, r#"["a","b""#, "[a,b]"] {
            assert_eq!(
                patch_of("agent_args", &[typed]).unwrap_err(),
                format!(
                    r#"`{typed}` is not a JSON list of strings; write agent_args as ["A","B"], each item in double quotes, or as A,B"#
                )
            );
        }
        assert!(patch_of("allowed_tools", &[r#"["Read", {}]"#]).is_err());
        assert_eq!(
            patch_of("allowed_tools", &["[]"]).unwrap().allowed_tools,
            Some(Vec::new())
        );
    }

    #[test]
    fn a_list_is_one_json_list_or_several_values_and_parentheses_keep_their_commas() {
        assert!(patch_of("allowed_tools", &[r#"["Read"]"#, r#"["Write"]"#])
            .unwrap_err()
            .contains("not both"));
        assert_eq!(
            patch_of("allowed_tools", &["Read,Bash(git diff,git log), Edit"])
                .unwrap()
                .allowed_tools,
            Some(vec![
                "Read".to_owned(),
                "Bash(git diff,git log)".to_owned(),
                "Edit".to_owned()
            ])
        );
    }

    #[test]
    fn automatic_isolation_as_shown_may_be_typed_back() {
        assert_eq!(
            patch_of("isolation", &["automatic"]).unwrap().isolation,
            Some(None)
        );
    }

    #[test]
    fn none_or_null_unsets_an_optional_setting_and_empties_a_list() {
        for word in ["none", "null"] {
            assert_eq!(
                patch_of("run_budget_usd", &[word]).unwrap().run_budget_usd,
                Some(None)
            );
            assert_eq!(
                patch_of("worker_prompt", &[word]).unwrap().worker_prompt,
                Some(None)
            );
            assert_eq!(
                patch_of("isolation", &[word]).unwrap().isolation,
                Some(None)
            );
            assert_eq!(
                patch_of("agent_args", &[word]).unwrap().agent_args,
                Some(Vec::new())
            );
        }
        assert_eq!(
            patch_of("model", &["none"]).unwrap_err(),
            "model cannot be unset: model takes a value, e.g. `baton config model claude-sonnet-4-20250514`"
        );
    }

    #[test]
    fn a_value_of_the_wrong_kind_says_what_is_expected_with_an_example() {
        assert_eq!(
            patch_of("max_workers", &["many"]).unwrap_err(),
            "`many` does not fit max_workers: max_workers takes a whole number from 1 to 64, e.g. `baton config max_workers 4`"
        );
        assert_eq!(
            patch_of("task_budget_usd", &["lots"]).unwrap_err(),
            "`lots` does not fit task_budget_usd: task_budget_usd takes an amount of dollars, or none, e.g. `baton config task_budget_usd 2.50`"
        );
        assert_eq!(
            patch_of("isolation", &["docker"]).unwrap_err(),
            "`docker` does not fit isolation: isolation takes one of worktree, shared, or none, e.g. `baton config isolation shared`"
        );
        assert_eq!(
            patch_of("max_workers", &["3", "4"]).unwrap_err(),
            "`3 4` does not fit max_workers: max_workers takes a whole number from 1 to 64, e.g. `baton config max_workers 4`"
        );
    }

    #[test]
    fn a_number_too_big_for_its_setting_says_the_range_it_takes() {
        assert_eq!(
            patch_of("max_workers", &["99999999999"]).unwrap_err(),
            "`99999999999` does not fit max_workers: max_workers takes a whole number from 1 to 64, e.g. `baton config max_workers 4`"
        );
        assert_eq!(
            patch_of("task_timeout", &["99999999999999999999"]).unwrap_err(),
            "`99999999999999999999` does not fit task_timeout: task_timeout takes a whole number from 1 to 31536000, e.g. `baton config task_timeout 900`"
        );
    }

    #[test]
    fn an_unknown_setting_lists_the_known_ones() {
        assert_eq!(
            patch_of("workers", &["3"]).unwrap_err(),
            "unknown setting `workers`; the settings are agent_args, agent_command, \
             allowed_tools, integration_branch, isolation, keep_branches, leader_prompt, max_attempts, \
             max_review_rounds, max_verify_attempts, max_workers, model, permission_mode, \
             review, reviewer_prompt, run_budget_usd, task_budget_usd, task_timeout, \
             verify_command, worker_prompt"
        );
    }

    #[test]
    fn a_switch_takes_on_or_off() {
        assert_eq!(patch_of("review", &["on"]).unwrap().review, Some(true));
        assert_eq!(patch_of("review", &["off"]).unwrap().review, Some(false));
        assert_eq!(
            patch_of("review", &["maybe"]).unwrap_err(),
            "`maybe` does not fit review: review takes on or off, e.g. `baton config review on`"
        );
    }

    #[test]
    fn only_prompts_have_a_default_text_to_show() {
        assert!(default_prompt("worker_prompt")
            .unwrap()
            .contains("{task_id}"));
        assert!(default_prompt("leader_prompt").unwrap().contains("{goal}"));
        assert!(default_prompt("model").is_err());
    }
}
