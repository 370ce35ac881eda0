//! The store as a user depends on it: never served with less than was acknowledged,
//! brought back by `baton restore` when damaged, private to its user, and a daemon
//! that stops says why. The real `baton` and `batond`, on real files.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use baton_tests::{bin_dir, process_exists, wait_until, TestWorkspace};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one line of a failed command, checked to be one line that says `error:`.
fn error_line(output: &Output, what: &str) -> String {
    let said = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{what}: {said}");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 1, "{what} says one line: {said:?}");
    assert!(lines[0].starts_with("error: "), "{what}: {said:?}");
    lines[0].to_owned()
}

fn task_count(workspace: &TestWorkspace) -> usize {
    workspace.json(&["tasks"]).as_array().expect("a list").len()
}

fn total_tasks(workspace: &TestWorkspace) -> u64 {
    workspace.json(&["status"])["progress"]["total_tasks"]
        .as_u64()
        .expect("a count")
}

/// Adds `count` tasks through the protocol, in batches.
async fn add_tasks(workspace: &TestWorkspace, count: usize) {
    let client = workspace.client(false).await;
    let mut added = 0;
    while added < count {
        let batch = (added..count.min(added + 1000))
            .map(|i| json!({ "description": format!("task number {i}") }))
            .collect::<Vec<_>>();
        added += batch.len();
        client
            .call("baton/addTasks", json!({ "tasks": batch }))
            .await
            .expect("the tasks are added");
    }
}

/// A workspace whose stopped daemon served `count` tasks.
fn stopped_workspace(count: usize) -> TestWorkspace {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "keep every task"]);
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(add_tasks(&workspace, count));
    workspace.ok(&["daemon", "stop"]);
    workspace
}

fn copy_state(from: &TestWorkspace, to: &TestWorkspace) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from.root().join(".baton"))
        .arg(to.root())
        .status()
        .expect("cp runs");
    assert!(status.success());
}

fn db(workspace: &TestWorkspace) -> PathBuf {
    workspace.root().join(".baton/state/db")
}

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.write_all_at(bytes, at).unwrap();
}

/// A way to damage a stopped workspace's store.
type Damage = Box<dyn Fn(&TestWorkspace)>;

/// Applies `damage` to a copy of `template` (a stopped workspace of 300 tasks): each
/// start must be refused in one line naming `baton restore`, and the restore must
/// bring back the 300 tasks. Answers the refusal, what restore said, and the
/// workspace.
fn refused_then_restored(
    template: &TestWorkspace,
    (damage, apply): &(&str, Damage),
) -> (String, String, TestWorkspace) {
    let workspace = TestWorkspace::new();
    copy_state(template, &workspace);
    apply(&workspace);

    let refused = error_line(&workspace.baton(&["tasks"]), damage);
    assert!(refused.contains("`baton restore`"), "{damage}: {refused}");
    assert!(!refused.contains("already runs"), "{damage}: {refused}");
    // Refused again: a refused start wrote nothing that would let the next one in.
    error_line(&workspace.baton(&["status"]), damage);

    let restored = workspace.ok(&["restore"]);
    assert!(
        restored.contains("restored 300 tasks"),
        "{damage}: {restored}"
    );
    assert_eq!(task_count(&workspace), 300, "{damage}");
    (refused, restored, workspace)
}

#[test]
fn a_damaged_store_is_refused_in_one_line_and_restore_brings_every_task_back() {
    let template = stopped_workspace(300);
    let size = std::fs::metadata(db(&template)).unwrap().len();
    let damages: Vec<(&str, Damage)> = vec![
        (
            "truncated to half",
            Box::new(move |ws| {
                let file = std::fs::File::options().write(true).open(db(ws)).unwrap();
                file.set_len(size / 2).unwrap();
            }),
        ),
        (
            "truncated to 0 bytes",
            Box::new(|ws| {
                let file = std::fs::File::options().write(true).open(db(ws)).unwrap();
                file.set_len(0).unwrap();
            }),
        ),
        (
            "its first bytes garbled",
            Box::new(|ws| overwrite(&db(ws), 0, &[0xA5; 16])),
        ),
        (
            "64 bytes garbled mid-file",
            Box::new(move |ws| overwrite(&db(ws), size / 2, &[0x5A; 64])),
        ),
        (
            "its directory deleted",
            Box::new(|ws| std::fs::remove_dir_all(ws.root().join(".baton/state")).unwrap()),
        ),
    ];
    for damage in &damages {
        let (refused, restored, workspace) = refused_then_restored(&template, damage);
        assert!(
            refused.contains("damaged") || refused.contains("cannot be used"),
            "{}: {refused}",
            damage.0
        );
        assert!(
            restored.contains("nothing is lost"),
            "{}: {restored}",
            damage.0
        );
        assert_eq!(workspace.json(&["status"])["goal"], "keep every task");
    }
}

#[test]
fn a_store_behind_its_newest_snapshot_is_refused_even_when_its_check_record_is_gone_too() {
    let template = stopped_workspace(300);
    let size = std::fs::metadata(db(&template)).unwrap().len();
    let check = |ws: &TestWorkspace| ws.root().join(".baton/state.check");
    let damages: Vec<(&str, Damage)> = vec![
        (
            "the store and its check record deleted",
            Box::new(move |ws| {
                std::fs::remove_dir_all(ws.root().join(".baton/state")).unwrap();
                std::fs::remove_file(check(ws)).unwrap();
            }),
        ),
        (
            "the store truncated to half, its check record saying it was empty",
            Box::new(move |ws| {
                let file = std::fs::File::options().write(true).open(db(ws)).unwrap();
                file.set_len(size / 2).unwrap();
                std::fs::write(check(ws), r#"{"change":0,"tasks":0,"discoveries":0}"#).unwrap();
            }),
        ),
        (
            "the store truncated to half, its check record emptied",
            Box::new(move |ws| {
                let file = std::fs::File::options().write(true).open(db(ws)).unwrap();
                file.set_len(size / 2).unwrap();
                std::fs::write(check(ws), "").unwrap();
            }),
        ),
    ];
    for damage in &damages {
        let (refused, _, _) = refused_then_restored(&template, damage);
        assert!(
            refused.contains("damaged") || refused.contains("state.check is empty"),
            "{}: {refused}",
            damage.0
        );
    }
}

#[test]
fn a_store_another_process_holds_is_said_to_be_in_use_not_damaged() {
    let workspace = stopped_workspace(3);
    // As a daemon whose lock file was deleted holds it until it notices and stops.
    let held = std::fs::File::open(db(&workspace)).unwrap();
    held.lock().unwrap();
    let refused = error_line(&workspace.baton(&["tasks"]), "a store held elsewhere");
    assert!(
        refused.contains("in use by another process") && !refused.contains("damaged"),
        "{refused}"
    );
    let restore = error_line(&workspace.baton(&["restore", "--yes"]), "restore");
    assert!(restore.contains("in use by another process"), "{restore}");
    drop(held);
    assert_eq!(task_count(&workspace), 3);
}

#[test]
fn a_snapshot_that_does_not_read_whole_never_has_a_sound_store_refused() {
    let workspace = stopped_workspace(20);
    workspace.ok(&["add", "after the snapshot"]);
    workspace.ok(&["daemon", "stop"]);
    let snapshots = workspace.root().join(".baton/snapshots");
    let newest = snapshot_files(&workspace).pop().unwrap();
    std::fs::copy(&newest, snapshots.join("000000099999-00000000.json")).unwrap();
    std::fs::write(snapshots.join("000000099998.json"), "junk").unwrap();
    assert_eq!(task_count(&workspace), 21);
    workspace.ok(&["daemon", "stop"]);
    let refused = error_line(&workspace.baton(&["restore"]), "restore of a sound store");
    assert!(refused.contains("the state is not damaged"), "{refused}");
    assert_eq!(task_count(&workspace), 21);
}

/// Writes `state` as a snapshot of change `change`, named with its true checksum:
/// what no damage on disk makes, only a file put there.
fn plant_snapshot(workspace: &TestWorkspace, change: u64, state: &Value) {
    let bytes = serde_json::to_vec(state).unwrap();
    let name = format!("{change:012}-{:08x}.json", crc32fast::hash(&bytes));
    std::fs::write(workspace.root().join(".baton/snapshots").join(name), bytes).unwrap();
}

#[test]
fn a_snapshot_that_is_no_valid_state_never_has_a_sound_store_refused_and_one_with_fewer_tasks_says_so(
) {
    let workspace = stopped_workspace(20);
    workspace.ok(&["add", "after the snapshot"]);
    workspace.ok(&["daemon", "stop"]);
    let newest = snapshot_files(&workspace).pop().unwrap();
    let mut state: Value = serde_json::from_slice(&std::fs::read(&newest).unwrap()).unwrap();
    let mut invalid = state.clone();
    invalid["tasks"][0]["dependencies"] = json!(["task-404"]);
    plant_snapshot(&workspace, 99_999, &invalid);

    assert_eq!(task_count(&workspace), 21, "the sound store is served");

    workspace.ok(&["daemon", "stop"]);
    state["tasks"].as_array_mut().unwrap().truncate(5);
    plant_snapshot(&workspace, 99_998, &state);
    overwrite(&db(&workspace), 0, &[0xA5; 4096]);
    let restored = workspace.ok(&["restore"]);
    assert!(
        restored.contains("restored 5 tasks") && !restored.contains("nothing is lost"),
        "{restored}"
    );
    assert!(
        restored.contains("16 tasks and 0 discoveries fewer"),
        "{restored}"
    );
}

/// The snapshots in `workspace`, oldest first.
fn snapshot_files(workspace: &TestWorkspace) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(workspace.root().join(".baton/snapshots"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
}

#[test]
fn a_snapshot_damaged_on_disk_is_passed_over_and_a_planted_link_is_never_followed() {
    let workspace = stopped_workspace(300);
    workspace.ok(&["add", "after the first snapshot"]);
    // Links where the running daemon writes its next snapshot before renaming it
    // into place, to a file of the user's.
    let elsewhere = workspace.root().join("not-a-snapshot.json");
    std::fs::write(&elsewhere, "{}").unwrap();
    let dir = workspace.root().join(".baton/snapshots");
    let planted: Vec<PathBuf> = (0..2000)
        .map(|change| dir.join(format!(".{change:012}.json.partial")))
        .collect();
    for link in &planted {
        std::os::unix::fs::symlink(&elsewhere, link).unwrap();
    }
    workspace.ok(&["daemon", "stop"]);
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "{}");
    for link in &planted {
        let _ = std::fs::remove_file(link);
    }
    let [older, newest] = &snapshot_files(&workspace)[..] else {
        panic!("two snapshots: {:?}", snapshot_files(&workspace));
    };
    // An edit that leaves the snapshot valid JSON, with as many tasks: only its
    // checksum tells it from the one written.
    let text = std::fs::read_to_string(newest).unwrap();
    std::fs::write(newest, text.replace("task number 7\"", "task number X\"")).unwrap();
    overwrite(&db(&workspace), 0, &[0xA5; 4096]);

    let refused = error_line(&workspace.baton(&["tasks"]), "a garbled store");
    assert!(refused.contains("baton restore"), "{refused}");
    let restored = workspace.ok(&["restore"]);
    assert!(
        restored.contains(&format!("from {}", older.display()))
            && restored.contains(&format!(
                "the newer snapshot {} was passed over: it is damaged",
                newest.display()
            ))
            && restored.contains("the change after it is lost (1 task and 0 discoveries fewer)"),
        "{restored}"
    );
    assert_eq!(task_count(&workspace), 300);

    // Named by the user, the damaged snapshot is refused, not restored.
    workspace.ok(&["daemon", "stop"]);
    let from = workspace.baton(&["restore", "--yes", "--from", newest.to_str().unwrap()]);
    let refused = error_line(&from, "restore --from a damaged snapshot");
    assert!(refused.contains("it is damaged"), "{refused}");
    assert_eq!(task_count(&workspace), 300);
}

#[test]
fn a_daemon_started_and_stopped_without_a_change_writes_no_snapshot() {
    let workspace = stopped_workspace(300);
    let snapshots = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(workspace.root().join(".baton/snapshots"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = snapshots();
    assert_eq!(before.len(), 1, "{before:?}");
    for _ in 0..7 {
        assert_eq!(task_count(&workspace), 300);
        workspace.ok(&["status"]);
        workspace.ok(&["daemon", "stop"]);
    }
    assert_eq!(
        snapshots(),
        before,
        "the snapshot of 300 tasks is still the newest"
    );
}

#[test]
fn restore_keeps_a_whole_store_whose_check_record_is_unreadable() {
    // Two changes after the newest snapshot, which bringing it back would lose.
    let template = stopped_workspace(300);
    template.ok(&["add", "after the snapshot 1"]);
    template.ok(&["add", "after the snapshot 2"]);
    template.kill_daemon();
    let check = |ws: &TestWorkspace| ws.root().join(".baton/state.check");
    let damages: Vec<(&str, Damage)> = vec![
        (
            "garbled",
            Box::new(move |ws| std::fs::write(check(ws), [0xA5u8; 128]).unwrap()),
        ),
        (
            // A record is written whole before it is put in place: an empty one was
            // emptied, and says nothing of what the store must hold.
            "emptied",
            Box::new(move |ws| std::fs::write(check(ws), b"").unwrap()),
        ),
        (
            "replaced by a directory",
            Box::new(move |ws| {
                std::fs::remove_file(check(ws)).unwrap();
                std::fs::create_dir(check(ws)).unwrap();
            }),
        ),
    ];
    for (damage, apply) in &damages {
        let workspace = TestWorkspace::new();
        copy_state(&template, &workspace);
        apply(&workspace);
        let refused = error_line(&workspace.baton(&["tasks"]), damage);
        assert!(refused.contains("`baton restore`"), "{damage}: {refused}");
        let restored = workspace.ok(&["restore"]);
        assert!(
            restored.contains("it holds 302 tasks") && restored.contains("nothing is lost"),
            "{damage}: {restored}"
        );
        assert_eq!(task_count(&workspace), 302, "{damage}");
    }
}

#[test]
fn devices_pipes_and_links_are_neither_read_nor_replaced_as_state_files() {
    let workspace = stopped_workspace(3);
    let fifo = workspace.root().join("fifo");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let mine = workspace.root().join("mine.json");
    std::fs::write(&mine, "mine").unwrap();
    let link = workspace.root().join("link.json");
    std::os::unix::fs::symlink(&mine, &link).unwrap();

    // `/dev/zero` was read until memory ran out; a pipe held the daemon forever.
    for file in [Path::new("/dev/zero"), &fifo] {
        let refused = error_line(&workspace.baton(&["load", file.to_str().unwrap()]), "load");
        assert!(refused.contains("not a regular file"), "{refused}");
    }
    for file in [&fifo, &link] {
        let refused = error_line(&workspace.baton(&["save", file.to_str().unwrap()]), "save");
        assert!(refused.contains("not a regular file"), "{refused}");
    }
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");
    assert_eq!(task_count(&workspace), 3);
    workspace.ok(&["daemon", "stop"]);
    let refused = error_line(
        &workspace.baton(&["restore", "--yes", "--from", "/dev/zero"]),
        "restore",
    );
    assert!(refused.contains("not a regular file"), "{refused}");
    assert_eq!(task_count(&workspace), 3);
}

/// A named pipe where the daemon keeps a file of its own held the daemon starting
/// forever (its log) or every command waiting (`daemon.json`): each is refused,
/// saying what to remove, and the state is kept.
#[test]
fn a_pipe_where_the_daemon_keeps_its_own_files_is_refused_not_waited_on() {
    let workspace = stopped_workspace(3);
    let today = workspace
        .workspace()
        .daemon_log(chrono::Utc::now().date_naive());
    for planted in [today, workspace.workspace().daemon_json()] {
        let _ = std::fs::remove_file(&planted);
        let name = std::ffi::CString::new(planted.to_str().unwrap()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let said = error_line(
            &workspace.baton_within(&["tasks"], Duration::from_secs(30)),
            "tasks",
        );
        assert!(
            said.contains(&planted.display().to_string())
                && said.contains("not a regular file or directory")
                && said.contains("remove it"),
            "{said}"
        );
        std::fs::remove_file(&planted).unwrap();
        assert_eq!(task_count(&workspace), 3);
        workspace.ok(&["daemon", "stop"]);
    }
}

#[test]
fn save_refuses_to_write_over_the_daemon_s_own_files() {
    let workspace = stopped_workspace(3);
    for inside in [
        ".baton/state/db",
        ".baton/state.check",
        ".baton/daemon.lock",
        ".baton/daemon.json",
        ".baton/snapshots/mine.json",
        ".baton/logs/saved.json",
    ] {
        let target = workspace.root().join(inside);
        let refused = error_line(
            &workspace.baton(&["save", target.to_str().unwrap()]),
            inside,
        );
        assert!(
            refused.contains("save somewhere else"),
            "{inside}: {refused}"
        );
        // What `save` writes is pretty JSON; none of it went there.
        let written = std::fs::read(&target).unwrap_or_default();
        let saved_there = String::from_utf8_lossy(&written).contains("\n  \"goal\": ");
        assert!(!saved_there, "{inside} was not written");
        assert_eq!(task_count(&workspace), 3, "{inside}");
    }
    // A file of the user's own beside them is fine.
    let mine = workspace.root().join(".baton/mine.json");
    workspace.ok(&["save", mine.to_str().unwrap()]);
}

#[test]
fn restore_says_how_many_changes_after_the_snapshot_are_lost() {
    for deleted in [false, true] {
        let workspace = stopped_workspace(300);
        workspace.ok(&["add", "after the snapshot 1"]);
        workspace.ok(&["add", "after the snapshot 2"]);
        workspace.kill_daemon();
        if deleted {
            std::fs::remove_dir_all(workspace.root().join(".baton/state")).unwrap();
        } else {
            std::fs::File::options()
                .write(true)
                .open(db(&workspace))
                .unwrap()
                .set_len(0)
                .unwrap();
        }
        restored_losing_two(&workspace);
    }
}

fn restored_losing_two(workspace: &TestWorkspace) {
    // The refusal says all that was written, not only what the snapshot holds.
    let refused = error_line(&workspace.baton(&["tasks"]), "a damaged store");
    assert!(refused.contains("302 tasks"), "{refused}");

    let restored = workspace.ok(&["restore"]);
    assert!(
        restored.contains("the 2 changes after it are lost (2 tasks and 0 discoveries fewer)"),
        "{restored}"
    );
    assert_eq!(task_count(workspace), 300);
    // Nothing is deleted: the damaged store is kept aside.
    let aside = std::fs::read_dir(workspace.root().join(".baton"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("state.damaged-")
        });
    assert!(aside, "the damaged store is kept");
}

#[test]
fn restore_from_a_saved_file_and_refusals_change_nothing() {
    let workspace = stopped_workspace(10);
    let saved = workspace.root().join("saved.json");
    workspace.ok(&["save", saved.to_str().unwrap()]);
    workspace.ok(&["add", "after the save"]);

    let running = error_line(&workspace.baton(&["restore"]), "restore under a daemon");
    assert!(running.contains("`baton daemon stop`"), "{running}");
    workspace.ok(&["daemon", "stop"]);

    let missing = error_line(
        &workspace.baton(&["restore", "--from", "no-such-file.json"]),
        "restore from a missing file",
    );
    assert!(missing.contains("nothing was changed"), "{missing}");
    assert_eq!(task_count(&workspace), 11);
    workspace.ok(&["daemon", "stop"]);

    // A store that is not damaged holds every acknowledged change: restoring over it
    // is asked for, never done by default.
    for args in [
        vec!["restore"],
        vec!["restore", "--from", saved.to_str().unwrap()],
    ] {
        let kept = error_line(&workspace.baton(&args), "restore over a whole store");
        assert!(
            kept.contains("not damaged") && kept.contains("--yes"),
            "{kept}"
        );
        assert_eq!(task_count(&workspace), 11, "{args:?} changed nothing");
        workspace.ok(&["daemon", "stop"]);
    }

    let restored = workspace.ok(&["restore", "--from", saved.to_str().unwrap(), "--yes"]);
    assert!(restored.contains("restored 10 tasks"), "{restored}");
    assert!(
        restored.contains("1 task and 0 discoveries fewer"),
        "{restored}"
    );
    assert_eq!(task_count(&workspace), 10);
}

#[test]
fn without_a_snapshot_the_refusal_names_restore_from_a_saved_file() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "one"]);
    workspace.kill_daemon();
    std::fs::remove_dir_all(workspace.root().join(".baton/state")).unwrap();

    let refused = error_line(&workspace.baton(&["tasks"]), "a deleted store");
    assert!(
        refused.contains("no snapshot yet: `baton restore --from FILE`"),
        "{refused}"
    );
    let none = error_line(&workspace.baton(&["restore"]), "restore without a snapshot");
    assert!(none.contains("no snapshot"), "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_written_every_500_changes_and_the_newest_5_kept() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let snapshots = workspace.root().join(".baton/snapshots");
    let list = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&snapshots)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    // One task edited again and again: a small board, where snapshots come every 500
    // changes (a large one spaces them by its tasks).
    let edit = |hints: String| {
        let client = &client;
        async move {
            client
                .call(
                    "baton/editTask",
                    json!({ "task_id": "task-001", "hints": hints }),
                )
                .await
                .unwrap();
        }
    };
    client
        .call("baton/addTask", json!({ "description": "edited" }))
        .await
        .unwrap();
    for i in 0..498 {
        edit(format!("t{i}")).await;
    }
    assert!(list().is_empty(), "no snapshot before 500 changes");
    for round in 1..=7 {
        for i in 0..500 {
            edit(format!("r{round} {i}")).await;
        }
        let expected = round.min(5);
        wait_until(LIMIT, || list().len() == expected);
    }
    let newest = list().pop().unwrap();
    let state: Value =
        serde_json::from_slice(&std::fs::read(snapshots.join(&newest)).unwrap()).unwrap();
    let hints = state["tasks"][0]["context"]["hints"].as_str().unwrap();
    assert!(
        hints.starts_with("r7 "),
        "the newest snapshot holds round 7: {hints}"
    );
}

#[test]
fn daemon_stop_returns_once_the_daemon_is_gone_and_the_next_command_works_at_30000_tasks() {
    let workspace = stopped_workspace(30_000);
    for added in 0..3 {
        assert_eq!(total_tasks(&workspace), 30_000 + added);
        let pid = workspace.daemon_pid().expect("a daemon runs");
        workspace.ok(&["daemon", "stop"]);
        assert!(
            !process_exists(pid),
            "batond {pid} exited before stop returned"
        );
        let next = workspace.baton(&["add", "right after the stop"]);
        assert!(next.status.success(), "{}", stderr(&next));
    }
    assert_eq!(total_tasks(&workspace), 30_003);
}

#[test]
fn a_deleted_state_directory_stops_the_daemon_before_it_acknowledges_more() {
    for deleted in [".baton/state", ".baton/daemon.lock", ".baton/state.check"] {
        let workspace = TestWorkspace::new();
        workspace.ok(&["add", "acknowledged"]);
        let pid = workspace.daemon_pid().expect("a daemon runs");
        let path = workspace.root().join(deleted);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }

        let said = error_line(&workspace.baton(&["add", "never acknowledged"]), deleted);
        assert!(
            said.contains("was deleted or replaced"),
            "{deleted}: {said}"
        );
        // The change reached the store before the deletion was seen: the user is told
        // to look before making it again.
        assert!(
            said.contains("`baton tasks` shows whether it was kept"),
            "{deleted}: {said}"
        );
        wait_until(LIMIT, || !process_exists(pid));
        if deleted == ".baton/state" {
            // What was acknowledged went with the directory: refused, not served
            // empty, and brought back whole from what the daemon held.
            let refused = error_line(&workspace.baton(&["tasks"]), "after the deletion");
            assert!(refused.contains("damaged"), "{refused}");
            let restored = workspace.ok(&["restore"]);
            assert!(restored.contains("nothing is lost"), "{restored}");
            assert_eq!(ids(&workspace.json(&["tasks"]))[0], "task-001");
        } else {
            let tasks = workspace.json(&["tasks"]);
            assert_eq!(ids(&tasks)[0], "task-001", "{deleted}");
        }
    }
}

#[test]
fn journals_cut_short_under_a_running_daemon_stop_it_and_nothing_acknowledged_is_lost() {
    let workspace = TestWorkspace::new();
    for i in 0..3 {
        workspace.ok(&["add", &format!("acknowledged {i}")]);
    }
    let pid = workspace.daemon_pid().expect("a daemon runs");
    for journal in ["journal", "journal-2"] {
        let path = workspace.root().join(".baton/state").join(journal);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(0)
            .unwrap();
    }
    let said = error_line(
        &workspace.baton(&["add", "never acknowledged"]),
        "after the cut",
    );
    assert!(said.contains("was cut short"), "{said}");
    wait_until(LIMIT, || !process_exists(pid));
    let descriptions = descriptions_once_restored(&workspace);
    for i in 0..3 {
        assert!(
            descriptions.contains(&format!("acknowledged {i}")),
            "{descriptions:?}"
        );
    }
}

#[test]
fn dot_baton_deleted_under_writers_loses_nothing_they_were_told_was_done() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "before"]);
    let root = workspace.root().to_owned();
    // Each writer adds until three commands have failed; the commands after the
    // daemon stopped find none and start a new one, which must not serve an empty
    // board over what was done.
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut failed = 0;
                for i in 0..2000 {
                    let description = format!("writer {writer} task {i}");
                    let added = Command::new(bin_dir().join("baton"))
                        .arg("-C")
                        .arg(&root)
                        .args(["add", &description])
                        .output()
                        .unwrap();
                    if added.status.success() {
                        acknowledged.push(description);
                    } else if failed == 2 {
                        break;
                    } else {
                        failed += 1;
                    }
                }
                acknowledged
            })
        })
        .collect();
    // A client that never closes its side holds the stopping daemon's last step
    // (closing every connection) for a while.
    let _idle = std::os::unix::net::UnixStream::connect(workspace.workspace().socket_path())
        .expect("connects");
    wait_until(LIMIT, || task_count_on_disk(&root) > 60);
    std::fs::remove_dir_all(root.join(".baton")).unwrap_or_default();
    let acknowledged: Vec<String> = writers
        .into_iter()
        .flat_map(|writer| writer.join().unwrap())
        .collect();
    let kept = descriptions_once_restored(&workspace);
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|done| !kept.contains(done))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged adds lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}

/// Every task's description, once the store a daemon stopped over is brought back
/// when the next start refuses it; the restore must lose nothing.
fn descriptions_once_restored(workspace: &TestWorkspace) -> Vec<String> {
    if !workspace.baton(&["tasks", "--json"]).status.success() {
        workspace.ok(&["daemon", "stop"]);
        let restored = workspace.ok(&["restore"]);
        assert!(restored.contains("nothing is lost"), "{restored}");
    }
    workspace
        .json(&["tasks"])
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["description"].as_str().unwrap().to_owned())
        .collect()
}

/// The tasks `root`'s check record says its store holds: the writers' progress.
fn task_count_on_disk(root: &Path) -> u64 {
    std::fs::read_to_string(root.join(".baton/state.check"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(text.trim()).ok())
        .and_then(|record| record["tasks"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_daemon_whose_workspace_is_deleted_stops_without_waiting_for_a_request() {
    for deleted in ["the workspace", ".baton"] {
        let workspace = TestWorkspace::new();
        workspace.ok(&["add", "acknowledged"]);
        let pid = workspace.daemon_pid().expect("a daemon runs");
        let root = workspace.root().to_owned();
        match deleted {
            "the workspace" => std::fs::remove_dir_all(&root).unwrap(),
            _ => std::fs::remove_dir_all(root.join(".baton")).unwrap(),
        }
        // No request comes: the daemon notices by itself, and a directory made again
        // at the same path is never served the deleted workspace's state.
        wait_until(LIMIT, || !process_exists(pid));
        std::fs::create_dir_all(&root).unwrap();
        if deleted == "the workspace" {
            let tasks = workspace.json(&["tasks"]);
            assert_eq!(tasks, serde_json::json!([]), "{deleted}");
        } else {
            // `.baton` alone (as `git clean -fdx` deletes it): what the daemon held is
            // not served as lost, and comes back.
            let refused = error_line(&workspace.baton(&["tasks"]), deleted);
            assert!(
                refused.contains("damaged") && refused.contains("baton restore"),
                "{refused}"
            );
            workspace.ok(&["restore"]);
            assert_eq!(ids(&workspace.json(&["tasks"])), ["task-001"]);
        }
        workspace.baton(&["daemon", "stop"]);
    }
}

fn ids(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["id"].as_str().unwrap())
        .collect()
}

/// Runs `baton ARGS` in `workspace` under umask 022.
fn baton_under_umask(workspace: &TestWorkspace, args: &[&str]) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(bin_dir().join("baton"))
        .arg("-C")
        .arg(workspace.root())
        .args(args)
        .stdout(Stdio::null());
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Every file and directory under `dir` whose mode lets others in.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mode = std::fs::symlink_metadata(dir).unwrap().permissions().mode();
    if mode & 0o077 != 0 {
        found.push(format!("{} {:o}", dir.display(), mode & 0o777));
    }
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            found.extend(open_to_others(&entry.unwrap().path()));
        }
    }
    found
}

#[test]
fn under_umask_022_everything_in_dot_baton_is_private_and_an_open_one_is_tightened() {
    let workspace = TestWorkspace::new();
    baton_under_umask(&workspace, &["init", "private"]);
    baton_under_umask(&workspace, &["add", "a task with a secret in its prompt"]);
    baton_under_umask(&workspace, &["daemon", "stop"]);
    baton_under_umask(&workspace, &["status"]);
    let baton = workspace.root().join(".baton");
    assert_eq!(open_to_others(&baton), Vec::<String>::new());
    let mode = std::fs::metadata(&baton).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    baton_under_umask(&workspace, &["daemon", "stop"]);
    // An existing `.baton/` left open (as earlier versions made it) is tightened.
    let status = Command::new("chmod")
        .args(["-R", "go+rX"])
        .arg(&baton)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!open_to_others(&baton).is_empty());
    baton_under_umask(&workspace, &["status"]);
    assert_eq!(open_to_others(&baton), Vec::<String>::new());
}

/// A filesystem of a few MiB for a workspace: a tmpfs when this process may mount one
/// (root), else none, and the daemon gets a file size limit instead.
struct SmallDisk {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        SmallDisk { dir, mounted }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn baton(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("baton"))
            .arg("-C")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let running = std::fs::read(self.path().join(".baton/daemon.json")).ok();
        let pid = running
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|running| running["pid"].as_u64());
        if let Some(pid) = pid {
            // SAFETY: sending a signal touches no memory of ours.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

#[test]
fn a_full_disk_stops_the_daemon_which_says_why_and_so_does_the_cli() {
    let disk = SmallDisk::new();
    let mut daemon = Command::new(bin_dir().join("batond"));
    daemon
        .arg("--workspace")
        .arg(disk.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let expected = if disk.mounted {
        eprintln!("the workspace is on a 4 MiB tmpfs");
        "the disk is full"
    } else {
        eprintln!("mounting a tmpfs failed: the daemon gets RLIMIT_FSIZE of 4 MiB instead");
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit and signal are async-signal-safe.
        unsafe {
            daemon.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 4 << 20,
                    rlim_max: 4 << 20,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
        "the file size limit was reached"
    };
    let daemon = daemon.spawn().unwrap();
    // Serving before the first command, which would otherwise start a daemon of its
    // own when this one is slow to listen.
    let socket = baton_protocol::Workspace::at(disk.path())
        .unwrap()
        .socket_path();
    wait_until(LIMIT, || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    let started = disk.baton(&["status"]);
    assert!(started.status.success(), "{}", stderr(&started));

    let description = "a long description ".repeat(3000);
    let mut acknowledged = 0;
    let refused = loop {
        let output = disk.baton(&["add", &description]);
        if !output.status.success() {
            break error_line(&output, "an add on a full disk");
        }
        acknowledged += 1;
        assert!(acknowledged < 1000, "the disk never filled");
    };
    assert!(refused.contains(expected), "{refused}");

    let stopped = daemon.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(70));
    let said = stderr(&stopped);
    assert!(
        said.contains("stopped") && said.contains(expected),
        "{said}"
    );
    let log = std::fs::read_dir(disk.path().join(".baton/logs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("daemon.log")
        })
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect::<String>();
    assert!(log.contains(expected), "the log says why: {log}");

    if disk.mounted {
        // The disk still full: the next start says so, and restore changes nothing.
        let refused = error_line(&disk.baton(&["tasks"]), "a start on a full disk");
        assert!(
            refused.contains("disk") && refused.contains("full"),
            "{refused}"
        );
        assert!(!refused.contains("damaged"), "{refused}");
        let restore = disk.baton(&["restore"]);
        assert!(!restore.status.success(), "{}", stderr(&restore));
        let entries: Vec<String> = std::fs::read_dir(disk.path().join(".baton"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(entries.contains(&"state".to_owned()), "{entries:?}");
        assert!(
            !entries.iter().any(|name| name.contains("damaged")),
            "the sound store was not moved aside: {entries:?}"
        );
        // With room again, the same workspace serves every acknowledged task.
        let grown = Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(disk.path())
            .status()
            .unwrap();
        assert!(grown.success());
        let tasks = disk.baton(&["tasks", "--json"]);
        assert!(tasks.status.success(), "{}", stderr(&tasks));
        let tasks: Value = serde_json::from_slice(&tasks.stdout).unwrap();
        assert!(tasks.as_array().unwrap().len() >= acknowledged);
        return;
    }

    // Every acknowledged task is there, on a disk with room again.
    let elsewhere = TestWorkspace::new();
    let status = Command::new("cp")
        .arg("-a")
        .arg(disk.path().join(".baton"))
        .arg(elsewhere.root())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(task_count(&elsewhere) >= acknowledged);
    eprintln!("{acknowledged} adds were acknowledged before the disk filled");
}

#[test]
fn a_second_restore_under_way_says_a_restore_holds_the_workspace_not_a_daemon() {
    let workspace = stopped_workspace(20_000);
    let first = workspace
        .spawn_baton(&["restore", "--yes"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("baton runs");
    let lock = workspace.root().join(".baton/daemon.lock");
    wait_until(LIMIT, || {
        std::fs::File::open(&lock).is_ok_and(|lock| lock.try_lock_shared().is_err())
    });
    let second = error_line(
        &workspace.baton(&["restore", "--yes"]),
        "a restore while another runs",
    );
    assert!(
        second.contains("`baton restore` is bringing this workspace's state back"),
        "{second}"
    );
    assert!(!second.contains("daemon"), "{second}");
    let first = first.wait_with_output().expect("the first restore ends");
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(task_count(&workspace), 20_000);
}

/// The bytes of everything under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => bytes_under(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A task is written again at every step of its way (a claim, a stage, an edit). One
/// with a long description or output must not leave a copy of itself on disk each
/// time: 300 edits of a task of 900 KB wrote 270 MB, and kept them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_a_large_task_again_and_again_keeps_the_store_bounded() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    client
        .call(
            "baton/addTask",
            json!({ "description": "d".repeat(900_000) }),
        )
        .await
        .expect("the task is added");
    for i in 0..300 {
        client
            .call(
                "baton/editTask",
                json!({ "task_id": "task-001", "hints": format!("edit {i}") }),
            )
            .await
            .expect("the task is edited");
    }
    let store = workspace.root().join(".baton/state");
    let held = bytes_under(&store);
    assert!(
        held < 120 << 20,
        "300 rewrites of a 900 KB task left {} MiB in the store",
        held >> 20
    );
    drop(client);
    workspace.ok(&["daemon", "stop"]);
    let shown = workspace.json(&["show", "task-001"]);
    assert_eq!(shown["context"]["hints"], "edit 299");
    assert_eq!(shown["description"].as_str().map(str::len), Some(900_000));
}

/// Writes a state file of `count` tasks described `"{label} {i}"`, long enough that
/// the board is far larger than a journal.
fn state_file_of(path: &Path, label: &str, count: usize) {
    let tasks: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "id": format!("task-{:03}", i + 1),
                "description": format!("{label} {i} {}", "x".repeat(300)),
                "status": "available",
                "priority": 5,
                "created_at": "2026-12-01T10:00:00Z",
            })
        })
        .collect();
    let state = json!({ "goal": label, "tasks": tasks });
    std::fs::write(path, serde_json::to_vec(&state).expect("JSON")).expect("the state file");
}

/// The labels of the board's tasks, each once.
fn labels(workspace: &TestWorkspace) -> std::collections::BTreeSet<String> {
    workspace
        .json(&["tasks"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|task| {
            task["description"]
                .as_str()
                .expect("a description")
                .split(' ')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// A change larger than a journal (here a load of 12,000 long tasks) goes to the
/// database at once: a daemon killed while it writes it is found with the board
/// before the load or after it, never part of each.
#[test]
fn a_load_cut_short_by_kill_9_leaves_the_board_before_or_after_it_never_a_mix() {
    let workspace = TestWorkspace::new();
    let files = tempfile::tempdir().expect("a directory");
    let (old, new) = (files.path().join("old.json"), files.path().join("new.json"));
    state_file_of(&old, "OLD", 12_000);
    state_file_of(&new, "NEW", 12_000);
    workspace.ok(&["load", old.to_str().expect("a path")]);
    let started = std::time::Instant::now();
    workspace.ok(&["load", new.to_str().expect("a path")]);
    let whole = started.elapsed();
    let mut board = "NEW";
    for tenth in [2, 3, 4, 5, 6, 7, 8, 9, 3, 5, 7, 9] {
        let next = if board == "NEW" { &old } else { &new };
        let mut load = workspace
            .spawn_baton(&["load", next.to_str().expect("a path")])
            .spawn()
            .expect("baton load starts");
        std::thread::sleep(whole * tenth / 10);
        workspace.kill_daemon();
        let _ = load.wait();
        let found = labels(&workspace);
        assert_eq!(
            found.len(),
            1,
            "killed at {tenth}/10 of a load: the board holds {found:?}"
        );
        board = if found.contains("NEW") { "NEW" } else { "OLD" };
        assert_eq!(
            task_count(&workspace),
            12_000,
            "killed at {tenth}/10 of a load"
        );
    }
}
