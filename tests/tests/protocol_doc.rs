//! `docs/protocol.md` is what clients in other languages are written from, so it must
//! name every request, every notification and every error code the protocol has. A
//! method added to the protocol without a word in the document fails here.

use std::path::PathBuf;

use baton_protocol::methods::{Closing, StateChangeReason, REQUEST_METHODS};
use baton_protocol::{ErrorKind, Event};

fn protocol_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Whether `name` is a heading of the document or appears in backticks in it.
fn mentions(doc: &str, name: &str) -> bool {
    let in_backticks = doc.contains(&format!("`{name}`"));
    let in_a_heading = doc.lines().any(|line| {
        line.starts_with('#')
            && line
                .split_whitespace()
                .any(|word| word.trim_matches('`') == name)
    });
    in_backticks || in_a_heading
}

fn missing<'a>(doc: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|name| !mentions(doc, name))
        .collect()
}

#[test]
fn every_request_method_is_documented() {
    let doc = protocol_doc();
    let missing = missing(&doc, REQUEST_METHODS.iter().copied());
    assert!(
        missing.is_empty(),
        "docs/protocol.md does not document these requests: {missing:?}; give each a \
         section with its params, result, errors and an example"
    );
}

#[test]
fn every_notification_is_documented() {
    let doc = protocol_doc();
    let methods = Event::METHODS.iter().copied();
    let missing = missing(&doc, methods.chain([Closing::METHOD]));
    assert!(
        missing.is_empty(),
        "docs/protocol.md does not document these notifications: {missing:?}; give each \
         its params and an example"
    );
}

#[test]
fn every_error_kind_is_documented_with_its_code() {
    let doc = protocol_doc();
    let missing: Vec<String> = ErrorKind::ALL
        .into_iter()
        .filter(|kind| {
            !mentions(&doc, &format!("{kind:?}")) || !mentions(&doc, &kind.code().to_string())
        })
        .map(|kind| format!("{kind:?} ({})", kind.code()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md's error table lacks {missing:?}; name each kind and its code"
    );
}

/// Every reason a `baton/stateChanged` can give. A reason added to the protocol breaks
/// the match below, which is the reminder to list it here too.
fn state_change_reasons() -> Vec<StateChangeReason> {
    use StateChangeReason::*;
    let reasons = vec![Init, Plan, Configure, Start, Stop, Load, Resync];
    for reason in &reasons {
        match reason {
            Init | Plan | Configure | Start | Stop | Load | Resync => {}
        }
    }
    reasons
}

#[test]
fn every_state_change_reason_is_documented() {
    let doc = protocol_doc();
    let names: Vec<String> = state_change_reasons()
        .into_iter()
        .map(|reason| {
            serde_json::to_value(reason)
                .expect("a reason serializes")
                .as_str()
                .expect("a reason is a string")
                .to_owned()
        })
        .collect();
    let missing = missing(&doc, names.iter().map(String::as_str));
    assert!(
        missing.is_empty(),
        "docs/protocol.md does not list these baton/stateChanged reasons: {missing:?}; say \
         what sends each"
    );
}
