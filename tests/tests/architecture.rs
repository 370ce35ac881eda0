//! ARCHITECTURE.md's invariants, checked over the source tree: each is a statement
//! someone could check with grep, so this test greps.

use std::path::{Path, PathBuf};

/// The repository's root: this crate sits one level below it.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_owned()
}

/// A production source file: its path from the repository's root and its text up to
/// its unit tests (`#[cfg(test)]`), with comment lines left out.
struct Source {
    path: String,
    code: Vec<(usize, String)>,
}

fn sources(crates: &[&str]) -> Vec<Source> {
    let root = repository();
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = crates.iter().map(|dir| root.join(dir)).collect();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                // A module's unit tests in their own directory are not production code.
                if path.file_name().is_some_and(|name| name != "tests") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs")
                && path.file_name().is_some_and(|name| name != "tests.rs")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            let code = text
                .lines()
                .enumerate()
                .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
                .filter(|(_, line)| !line.trim_start().starts_with("//"))
                .map(|(number, line)| (number + 1, line.to_owned()))
                .collect();
            Source {
                path: path
                    .strip_prefix(&root)
                    .expect("under the repository")
                    .display()
                    .to_string(),
                code,
            }
        })
        .collect()
}

/// Lines of `files` outside `allowed` that contain `needle`, as `path:line: text`.
fn offending(files: &[Source], needle: &str, allowed: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|file| !allowed.iter().any(|allowed| file.path.starts_with(allowed)))
        .flat_map(|file| {
            file.code
                .iter()
                .filter(|(_, line)| line.contains(needle))
                .map(|(number, line)| format!("{}:{number}: {}", file.path, line.trim()))
        })
        .collect()
}

#[test]
fn every_state_path_comes_from_the_workspace_type() {
    let files = sources(&["protocol/src", "daemon/src", "cli/src"]);
    let found = offending(&files, "\".baton", &["protocol/src/workspace.rs"]);
    assert!(
        found.is_empty(),
        "`.baton` paths are joined by hand; use `Workspace`'s methods:\n{}",
        found.join("\n")
    );
    let found = offending(&files, ".baton/", &["protocol/src/workspace.rs"]);
    assert!(
        found.is_empty(),
        "`.baton/...` paths are joined by hand; use `Workspace`'s methods:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_store_touches_sled() {
    let files = sources(&["protocol/src", "daemon/src", "cli/src"]);
    let found = offending(&files, "sled", &["daemon/src/store"]);
    assert!(
        found.is_empty(),
        "sled outside store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_server_knows_tower_lsp() {
    let files = sources(&["protocol/src", "daemon/src", "cli/src"]);
    let found = offending(&files, "tower_lsp", &["daemon/src/server"]);
    assert!(
        found.is_empty(),
        "tower_lsp outside server/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_does_no_io() {
    let files = sources(&["daemon/src/core"]);
    for needle in [
        "tokio",
        "sled",
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "Utc::now",
        "SystemTime",
        "Instant",
        "tracing",
        "println!",
    ] {
        let found = offending(&files, needle, &[]);
        assert!(
            found.is_empty(),
            "the core does {needle}; time is an argument and I/O belongs at the edges:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn processes_are_started_only_where_architecture_md_says() {
    let files = sources(&["protocol/src", "daemon/src", "cli/src"]);
    let found = offending(
        &files,
        "Command::new",
        &[
            "daemon/src/agents/",
            "daemon/src/main.rs",
            "protocol/src/client/start.rs",
            "cli/src/commands/state.rs",
        ],
    );
    assert!(
        found.is_empty(),
        "a process started outside agents/, batond's main, the client that starts batond and `baton restore`:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_binaries_exit_the_process() {
    let files = sources(&["protocol/src", "daemon/src", "cli/src"]);
    let found = offending(
        &files,
        "process::exit",
        &["daemon/src/main.rs", "cli/src/main.rs"],
    );
    assert!(
        found.is_empty(),
        "library code exits the process; return the error to main:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_server_and_the_daemons_main_wait_on_things_not_on_the_clock() {
    let files: Vec<Source> = sources(&["daemon/src"])
        .into_iter()
        .filter(|file| {
            file.path.starts_with("daemon/src/server/") || file.path == "daemon/src/main.rs"
        })
        .collect();
    // A failing `accept` (no file descriptor left) has nothing to wait on: whatever
    // frees one may not be the server's. Its retries are paced there alone.
    let found = offending(&files, "sleep", &["daemon/src/server/admission.rs"]);
    assert!(
        found.is_empty(),
        "a sleep in the server or the daemon's main; wait on what it waits for (an answer \
         sent, a task ended):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_client_or_server_spells_a_method_name_by_hand() {
    let files = sources(&["daemon/src", "cli/src"]);
    let methods = baton_protocol::methods::REQUEST_METHODS
        .iter()
        .chain(baton_protocol::Event::METHODS);
    for method in methods {
        let found = offending(&files, &format!("\"{method}\""), &[]);
        assert!(
            found.is_empty(),
            "{method} is spelled by hand; name it through `baton_protocol::methods`:\n{}",
            found.join("\n")
        );
    }
}

/// Dependencies point inward: server → agents → orchestrator → store → core.
#[test]
fn dependencies_point_inward() {
    let layers = ["server", "agents", "orchestrator", "store", "core"];
    for (at, layer) in layers.iter().enumerate() {
        let files: Vec<Source> = sources(&["daemon/src"])
            .into_iter()
            .filter(|file| {
                file.path.starts_with(&format!("daemon/src/{layer}/"))
                    || file.path == format!("daemon/src/{layer}.rs")
            })
            .collect();
        assert!(!files.is_empty(), "daemon/src/{layer} exists");
        for outer in &layers[..at] {
            let found = offending(&files, &format!("crate::{outer}"), &[]);
            assert!(
                found.is_empty(),
                "{layer} depends on {outer}, which depends on it:\n{}",
                found.join("\n")
            );
        }
    }
}

/// The extension's TypeScript files under `dir`, with their text.
fn typescript(dir: &str) -> Vec<(String, String)> {
    let root = repository();
    let mut files = Vec::new();
    let mut pending = vec![root.join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "ts") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, text));
            }
        }
    }
    files
}

#[test]
fn the_extension_names_the_protocol_in_one_module_and_its_logic_knows_no_editor() {
    let spelled: Vec<String> = typescript("editor-extension/src")
        .into_iter()
        .filter(|(path, text)| {
            path != "editor-extension/src/model/protocol.ts"
                && (text.contains("\"baton/") || text.contains("'baton/"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        spelled.is_empty(),
        "protocol names outside src/model/protocol.ts:\n{}",
        spelled.join("\n")
    );
    for dir in ["model", "graph", "timeline"] {
        let editor: Vec<String> = typescript(&format!("editor-extension/src/{dir}"))
            .into_iter()
            .filter(|(_, text)| text.contains("from 'vscode'") || text.contains("from \"vscode\""))
            .map(|(path, _)| path)
            .collect();
        assert!(
            editor.is_empty(),
            "src/{dir} is pure logic, yet imports vscode:\n{}",
            editor.join("\n")
        );
    }
}

/// About 600 lines at most for a production file (its unit tests not counted).
const MOST_LINES: usize = 600;
/// Where the limits on length are checked: every crate's production code.
const LIMITED: [&str; 3] = ["protocol/src", "daemon/src", "cli/src"];
/// About 80 lines at most for a function, unless a comment above it says why it is
/// longer (and says "long").
const MOST_FUNCTION_LINES: usize = 80;

#[test]
fn no_production_file_is_too_long() {
    let long: Vec<String> = sources(&LIMITED)
        .iter()
        .filter_map(|file| {
            let lines = file.code.last().map_or(0, |(number, _)| *number);
            (lines > MOST_LINES).then(|| format!("{}: {lines} lines", file.path))
        })
        .collect();
    assert!(
        long.is_empty(),
        "production files over {MOST_LINES} lines; split them by concern:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_function_is_too_long_without_saying_why() {
    let root = repository();
    let mut long = Vec::new();
    for file in sources(&LIMITED) {
        let text = std::fs::read_to_string(root.join(&file.path)).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        let end_of_code = file.code.last().map_or(0, |(number, _)| *number);
        for (at, line) in lines.iter().enumerate().take(end_of_code) {
            let trimmed = line.trim_start();
            let starts = [
                "fn ",
                "pub fn ",
                "async fn ",
                "pub async fn ",
                "pub(super) fn ",
                "pub(super) async fn ",
                "pub(crate) fn ",
                "pub(crate) async fn ",
            ];
            if !starts.iter().any(|start| trimmed.starts_with(start)) || trimmed.ends_with(';') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let closing = format!("{}}}", " ".repeat(indent));
            let Some(length) = lines[at..].iter().position(|line| *line == closing) else {
                continue;
            };
            if length < MOST_FUNCTION_LINES {
                continue;
            }
            let said_why = lines[..at]
                .iter()
                .rev()
                .take_while(|line| {
                    let line = line.trim_start();
                    line.starts_with("//") || line.starts_with("#[")
                })
                .any(|line| line.contains("long"));
            if !said_why {
                long.push(format!("{}:{}: {} lines", file.path, at + 1, length + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MOST_FUNCTION_LINES} lines with no comment saying why they are long:\n{}",
        long.join("\n")
    );
}
