//! `-C DIR` finds the workspace as `cd DIR && baton` does; `init --here` makes a new
//! one on purpose. Real daemon, real CLI.

use std::path::Path;
use std::process::{Command, Output};

use baton_tests::agent_workspace::{git_output, init_repository};
use baton_tests::{bin_dir, TestWorkspace};
use serde_json::Value;

fn baton_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin_dir().join("baton"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("baton runs")
}

fn json(output: Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn dash_c_into_a_subdirectory_finds_the_repository_s_workspace_and_init_here_makes_one() {
    let repo = TestWorkspace::new();
    let root = repo.root();
    git_output(root, &["init", "--quiet", "--initial-branch=main"]);
    let sub = root.join("src").join("deep");
    std::fs::create_dir_all(&sub).unwrap();
    repo.ok(&["init", "the repository's goal"]);
    let sub_arg = sub.to_str().unwrap();

    let from_c = json(baton_in(root, &["-C", sub_arg, "status", "--json"]));
    let from_cd = json(baton_in(&sub, &["status", "--json"]));
    assert_eq!(from_c["goal"], "the repository's goal");
    assert_eq!(from_c, from_cd, "-C DIR is cd DIR");
    assert!(!sub.join(".baton").exists(), "no second workspace");

    let here = baton_in(
        root,
        &["-C", sub_arg, "init", "--here", "a goal of its own"],
    );
    assert!(
        here.status.success(),
        "{}",
        String::from_utf8_lossy(&here.stderr)
    );
    assert!(sub.join(".baton").is_dir());
    let inner = json(baton_in(&sub, &["status", "--json"]));
    assert_eq!(inner["goal"], "a goal of its own");
    let outer = json(baton_in(root, &["status", "--json"]));
    assert_eq!(outer["goal"], "the repository's goal");
    // Neither workspace's state shows in the repository's status.
    let seen = git_output(root, &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(seen, "", "git sees {seen}");
    for dir in [root, sub.as_path()] {
        let _ = baton_in(dir, &["daemon", "stop"]);
    }
}

#[test]
fn dot_baton_stays_out_of_git_status_in_a_repository_and_in_a_linked_worktree() {
    // In a linked worktree (or a submodule) `.git` is a file naming where git keeps
    // the checkout's data; `.baton` must be ignored there as in any repository, or a
    // `git add -A` commits the state and the agents' logs.
    let dir = TestWorkspace::new();
    let main = dir.root().join("main");
    std::fs::create_dir(&main).unwrap();
    init_repository(&main);
    git_output(
        &main,
        &["commit", "--quiet", "--allow-empty", "-m", "first"],
    );
    let linked = dir.root().join("linked");
    git_output(
        &main,
        &["worktree", "add", "--quiet", linked.to_str().unwrap()],
    );
    for checkout in [&linked, &main] {
        json(baton_in(checkout, &["add", "a task", "--json"]));
        assert!(checkout.join(".baton").is_dir());
        let seen = git_output(checkout, &["status", "--porcelain"]);
        assert_eq!(seen, "", "git in {} sees {seen}", checkout.display());
        assert!(baton_in(checkout, &["daemon", "stop"]).status.success());
    }
}
