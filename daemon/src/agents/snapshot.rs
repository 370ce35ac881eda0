//! Shared isolation: agents work in the workspace itself, and what a task changed is
//! found by comparing the files before and after it (honouring .gitignore, so build
//! output and dependencies do not count).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use super::worktrees::Changes;

/// Every file's size and modification time, by path relative to the workspace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    files: BTreeMap<String, (u64, Option<SystemTime>)>,
}

impl Snapshot {
    /// The workspace's files as they are now, read off the async runtime's threads.
    pub async fn now(root: &Path) -> Snapshot {
        let root = root.to_owned();
        tokio::task::spawn_blocking(move || Snapshot::take(&root))
            .await
            .unwrap_or_default()
    }

    pub fn take(root: &Path) -> Snapshot {
        let mut files = BTreeMap::new();
        let walk = ignore::WalkBuilder::new(root)
            .hidden(false)
            .filter_entry(|entry| {
                let name = entry.file_name();
                name != ".git" && name != baton_protocol::workspace::STATE_DIR
            })
            .build();
        for entry in walk.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else {
                continue;
            };
            files.insert(
                relative.display().to_string(),
                (meta.len(), meta.modified().ok()),
            );
        }
        Snapshot { files }
    }

    /// What changed since `before`: new files are created; changed or removed files
    /// are modified.
    pub fn changes_since(&self, before: &Snapshot) -> Changes {
        let mut changes = Changes::default();
        for (path, now) in &self.files {
            match before.files.get(path) {
                None => changes.created.push(path.clone()),
                Some(then) if then != now => changes.modified.push(path.clone()),
                Some(_) => {}
            }
        }
        changes.modified.extend(
            before
                .files
                .keys()
                .filter(|path| !self.files.contains_key(*path))
                .cloned(),
        );
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_are_created_and_changed_or_removed_ones_modified() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kept.txt"), "same").unwrap();
        std::fs::write(dir.path().join("changed.txt"), "old").unwrap();
        std::fs::write(dir.path().join("removed.txt"), "gone soon").unwrap();
        std::fs::create_dir(dir.path().join(".baton")).unwrap();
        let before = Snapshot::take(dir.path());
        std::fs::write(dir.path().join("changed.txt"), "newer and longer").unwrap();
        std::fs::remove_file(dir.path().join("removed.txt")).unwrap();
        std::fs::write(dir.path().join("new.txt"), "hello").unwrap();
        std::fs::write(dir.path().join(".baton/ignored"), "state").unwrap();
        let changes = Snapshot::take(dir.path()).changes_since(&before);
        assert_eq!(changes.created, vec!["new.txt"]);
        assert_eq!(changes.modified, vec!["changed.txt", "removed.txt"]);
    }
}
