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
