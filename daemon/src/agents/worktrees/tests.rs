use super::*;

/// Runs git in `dir`, failing the test when it fails; answers its output, trimmed.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn added_files_are_created_and_the_rest_modified() {
    let changes = changes("A\0src/new.rs\0M\0src/lib.rs\0D\0old.txt\0");
    assert_eq!(changes.created, vec!["src/new.rs"]);
    assert_eq!(changes.modified, vec!["src/lib.rs", "old.txt"]);
}

/// A daemon killed while git wrote a task's checkout left it missing files; kept as
/// the task's work, that was a commit deleting them, which then landed.
#[tokio::test]
async fn a_checkout_left_half_made_is_not_kept_as_the_task_s_work() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path().canonicalize().unwrap();
    git(&root, &["init", "--quiet", "--initial-branch=main"]);
    for file in ["a.txt", "b.txt"] {
        std::fs::write(root.join(file), "kept\n").unwrap();
    }
    git(&root, &["add", "."]);
    let identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"];
    git(
        &root,
        &[&identity[..], &["commit", "--quiet", "-m", "start"]].concat(),
    );
    let workspace = Workspace::at(&root).unwrap();
    let worktrees = Worktrees::open(&workspace, "baton/integration")
        .await
        .unwrap();
    let task = TaskId::numbered(1);
    let made = worktrees.prepare(&task).await.unwrap();
    assert!(made.join("b.txt").exists());
    let left: Vec<_> = std::fs::read_dir(workspace.worktrees_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("task-001")]);
    worktrees.set_aside(&task).await.unwrap();

    // What a checkout of the next task looks like when git was stopped half-way.
    let next = TaskId::numbered(2);
    let half = workspace.worktrees_dir().join(format!("{PREPARING}{next}"));
    let branch = worktrees.branch(&next);
    let half_name = half.display().to_string();
    git(
        &root,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            &branch,
            &half_name,
            "baton/integration",
        ],
    );
    std::fs::remove_file(half.join("b.txt")).unwrap();

    worktrees.recover().await.unwrap();
    assert!(!half.exists(), "a half-made checkout is removed");
    assert_eq!(
        git(&root, &["rev-parse", &branch]),
        git(&root, &["rev-parse", "baton/integration"]),
        "nothing was committed on the task's branch"
    );
    let made = worktrees.prepare(&next).await.unwrap();
    assert!(made.join("b.txt").exists(), "the task's checkout is whole");
}
