//! A request's parameters read so that an error names the field and says what it
//! takes: `tasks[2].priority: invalid value: integer -1, expected a whole number from
//! 0 to 255`, where serde alone says `expected u8`, and no field.

use serde::de::{DeserializeOwned, Deserializer, Error};
use serde::Deserialize;

/// Parameters of type `T`, read naming where what was wrong is.
pub struct Checked<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_path_to_error::deserialize(deserializer)
            .map(Checked)
            .map_err(|err| {
                D::Error::custom(described(&err.path().to_string(), &err.inner().to_string()))
            })
    }
}

/// `what` went wrong at `path` (`.` for the parameters as a whole), in words a
/// client's author reads without knowing Rust's types.
fn described(path: &str, what: &str) -> String {
    let mut what = what.to_owned();
    for (rust, words) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 to 18446744073709551615"),
        ("usize", "a whole number of 0 or more"),
        ("f64", "a number"),
        ("a sequence", "a list"),
        ("a map", "an object"),
    ] {
        what = what.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    match path {
        "." => what,
        path => format!("{path}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::methods::AddTasksParams;
    use serde_json::json;

    fn refusal(params: serde_json::Value) -> String {
        match serde_json::from_value::<Checked<AddTasksParams>>(params) {
            Ok(_) => panic!("accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_wrong_field_is_named_with_what_it_takes() {
        let said = refusal(
            json!({ "tasks": [{ "description": "a" }, { "description": "b", "priority": -1 }] }),
        );
        assert_eq!(
            said,
            "tasks[1].priority: invalid value: integer `-1`, expected a whole number from 0 to 255"
        );
        let said =
            refusal(json!({ "tasks": [{ "description": "a", "dependencies": "task-001" }] }));
        assert_eq!(
            said,
            "tasks[0].dependencies: invalid type: string \"task-001\", expected a list"
        );
        assert_eq!(refusal(json!({})), "missing field `tasks`");
    }
}
