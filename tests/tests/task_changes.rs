//! `baton/taskChanges` with the real Claude Code binary: what a task changed while its
//! agent works (the worktree's files), and once it landed (its merge, apart from the
//! tasks that landed after it).

use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{ChangedFile, ClientError, ErrorKind, FileChange, TaskChangesResult, TaskId};
use baton_protocol::{Client, RunMode};
use baton_tests::add_task;
use baton_tests::agent_workspace::{add_scripted, bash, git_output, run, say, AgentWorkspace};

async fn changes(client: &Client, task: &TaskId) -> Result<TaskChangesResult, ClientError> {
    let task_id = task.clone();
    client
        .request::<m::TaskChanges>(&m::TaskRef { task_id })
        .await
}

fn file(path: &str, change: FileChange) -> ChangedFile {
    ChangedFile {
        path: path.into(),
        change,
    }
}

#[tokio::test]
async fn a_task_s_changes_are_its_worktree_while_it_works_and_its_merge_once_landed() {
    let agents = AgentWorkspace::git();
    let release = tempfile::tempdir().unwrap();
    let gate = release.path().join("go");
    let client = agents.start(1, 120).await;
    let alpha = add_scripted(
        &client,
        "alpha",
        &[
            bash(&format!(
                "echo alpha > alpha.txt && echo more >> README.md && \
                 while [ ! -e {} ]; do sleep 0.05; done",
                gate.display()
            )),
            say("alpha"),
        ],
        &[],
    )
    .await;
    let beta = add_scripted(
        &client,
        "beta",
        &[
            bash("echo beta > beta.txt && echo beta >> README.md"),
            say("beta"),
        ],
        &[&alpha],
    )
    .await;

    // The run goes on while the test looks at alpha at work, then lets its agent end.
    let watch = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let working = loop {
            if let Ok(found) = changes(&client, &alpha).await {
                if found.files.len() == 2 {
                    break found;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "alpha's agent did not write its two files in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        std::fs::write(&gate, "").unwrap();
        working
    };
    let (result, working) = tokio::join!(run(&client, RunMode::Predefined), watch);
    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 0),
        "{result:?}"
    );
    assert_eq!(
        working.files,
        vec![
            file("README.md", FileChange::Modified),
            file("alpha.txt", FileChange::Added)
        ]
    );
    assert_eq!(working.head, None, "the work is the worktree's files");
    let worktree = working.worktree.clone().expect("the worktree is named");
    assert!(
        worktree.ends_with(&format!("worktrees/{alpha}")),
        "{worktree}"
    );

    let landed = changes(&client, &alpha).await.unwrap();
    assert_eq!(landed.base, working.base, "the commit it started from");
    let head = landed
        .head
        .clone()
        .expect("a landed task's work is a commit");
    assert_eq!(
        landed.files,
        vec![
            file("README.md", FileChange::Modified),
            file("alpha.txt", FileChange::Added)
        ],
        "beta landed after alpha and is not part of alpha's changes"
    );
    assert_eq!(
        git_output(agents.root(), &["show", &format!("{head}:README.md")]),
        "a project\nmore"
    );
    let base_files = git_output(agents.root(), &["ls-tree", "--name-only", &landed.base]);
    assert_eq!(base_files, "README.md", "the base is from before alpha");
    let beta_changes = changes(&client, &beta).await.unwrap();
    assert_eq!(
        beta_changes.files,
        vec![
            file("README.md", FileChange::Modified),
            file("beta.txt", FileChange::Added)
        ]
    );
    let tree =
        |commit: &str| git_output(agents.root(), &["rev-parse", &format!("{commit}^{{tree}}")]);
    assert_eq!(
        tree(&beta_changes.base),
        tree(&head),
        "beta started from the integration branch holding alpha's work"
    );

    let never = add_task(&client, m::NewTask::new("never run"), &[]).await;
    let Err(ClientError::Baton(err)) = changes(&client, &never).await else {
        panic!("a task no agent took has no changes")
    };
    assert_eq!(err.kind, ErrorKind::InvalidInputError);
    assert!(
        err.message.contains("has no changes to show"),
        "{}",
        err.message
    );
    let Err(ClientError::Baton(err)) = changes(&client, &TaskId::numbered(999)).await else {
        panic!("an unknown task is an error")
    };
    assert_eq!(err.kind, ErrorKind::TaskNotFoundError);
}
