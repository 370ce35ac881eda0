//! The way a task's finished work takes to the integration branch, decided without a
//! process: its agent says it is done, the integration branch is brought into its
//! worktree, the verification command checks the merged tree, a reviewer may read
//! it, and only then does it land. A conflict, a failing check or a reviewer's
//! request goes back to the same agent, a bounded number of times.
//!
//! The runtime carries each [`Step`] out and reports what came of it as a [`Check`];
//! [`next`] says what follows.

use baton_protocol::{Config, TaskStage};

/// What came of the last step for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The agent ended its turn without giving up.
    Worked,
    /// The integration branch is in the worktree, merged cleanly and committed.
    BroughtIn,
    /// Bringing the integration branch in conflicts in `paths`; `theirs` is what the
    /// integration branch changed in them.
    Conflict { paths: Vec<String>, theirs: String },
    /// The agent ended its turn with conflict markers left in `paths`.
    Unresolved { paths: Vec<String> },
    /// The verification command passed on the merged tree.
    Verified,
    /// The verification command failed: its exit status (none: a signal or the
    /// timeout ended it) and the tail of its output.
    VerifyFailed { status: Option<i32>, tail: String },
    /// The reviewer approved.
    Approved,
    /// The reviewer asked for changes, saying why.
    ChangesRequested { reasons: String },
    /// The reviewer ended without giving a verdict through `review_task` (or could
    /// not run), `why`.
    NoVerdict { why: String },
    /// The integration branch moved between the check and the landing.
    Moved,
}

/// What the runtime does next for the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Commit the work and bring the integration branch into the worktree.
    BringIn,
    /// Run `verify_command` in the worktree.
    Verify,
    /// Have a reviewer read the task's diff.
    Review,
    /// Move the integration branch to the task's tree (compare-and-swap).
    Land,
    /// Resume the task's agent with `message`, the task at `stage` meanwhile.
    SendBack { stage: TaskStage, message: String },
    /// The task fails, saying why.
    Fail(String),
}

/// How often each way back to the agent has been taken for one task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rounds {
    pub verify_failures: u32,
    pub conflicts: u32,
    pub changes_requested: u32,
    pub reviews_without_verdict: u32,
}

/// How many reviews in a row may end without a verdict: a reviewer that does not
/// call `review_task` is started once more, then the task fails (its work kept).
pub const REVIEWS_WITHOUT_VERDICT: u32 = 2;

/// The most of a task's diff a reviewer's prompt holds, in bytes; past it the diff
/// is cut at a line and says so (the reviewer can read the files).
pub const MAX_REVIEW_DIFF: usize = 60_000;

/// Where the task is while `step` is carried out; `None` keeps it where it is (it
/// lands from the stage that passed it).
pub fn stage_of(step: &Step) -> Option<TaskStage> {
    match step {
        Step::BringIn | Step::Verify => Some(TaskStage::Verifying),
        Step::Review => Some(TaskStage::Reviewing),
        Step::SendBack { stage, .. } => Some(*stage),
        Step::Land | Step::Fail(_) => None,
    }
}

/// The step a task whose work stopped at `stage` (its daemon stopped) resumes with.
pub fn resume_at(stage: Option<TaskStage>) -> Option<Step> {
    match stage? {
        TaskStage::Working => None,
        // An open merge is concluded with what the agent left, or sent back again.
        TaskStage::Verifying | TaskStage::Resolving => Some(Step::BringIn),
        TaskStage::Reviewing => Some(Step::Review),
    }
}

/// What follows `check` for a task whose work is kept on `branch` and is merged into
/// `integration`. It is long because it is one match over every check, each arm the
/// message its step sends.
pub fn next(
    check: Check,
    rounds: &mut Rounds,
    config: &Config,
    integration: &str,
    branch: &str,
) -> Step {
    let after_check = |config: &Config| {
        if config.review {
            Step::Review
        } else {
            Step::Land
        }
    };
    match check {
        Check::Worked | Check::Moved => Step::BringIn,
        Check::BroughtIn if config.verify_command.is_some() => Step::Verify,
        Check::BroughtIn | Check::Verified => after_check(config),
        Check::Approved => {
            rounds.reviews_without_verdict = 0;
            Step::Land
        }
        Check::NoVerdict { why } => {
            rounds.reviews_without_verdict += 1;
            if rounds.reviews_without_verdict >= REVIEWS_WITHOUT_VERDICT {
                return Step::Fail(format!(
                    "its reviewer ended without a verdict {} times in a row (it must call \
                     review_task); its work is kept on branch {branch}. The last time: {why}",
                    rounds.reviews_without_verdict
                ));
            }
            Step::Review
        }
        Check::Conflict { paths, theirs } => {
            rounds.conflicts += 1;
            if rounds.conflicts > config.max_verify_attempts {
                return Step::Fail(conflict_failure(integration, branch, &paths));
            }
            Step::SendBack {
                stage: TaskStage::Resolving,
                message: format!(
                    "Merging {integration} into your work conflicts in {}. This worktree \
                     holds the merge: conflict markers show both sides where git could write \
                     them; where a file met a directory, or one side deleted what the other \
                     changed, git left one side (a file it set aside is named `path~HEAD`). \
                     What {integration} changed in them:\n```diff\n{}\n```\nResolve every \
                     conflict keeping both sides' intent, remove every marker and every \
                     set-aside copy; do not commit, baton does. Then end your turn. If you \
                     cannot, give up with fail_task.",
                    paths.join(", "),
                    clip_lines(&theirs, 200)
                ),
            }
        }
        Check::Unresolved { paths } => {
            rounds.conflicts += 1;
            if rounds.conflicts > config.max_verify_attempts {
                return Step::Fail(conflict_failure(integration, branch, &paths));
            }
            Step::SendBack {
                stage: TaskStage::Resolving,
                message: format!(
                    "Still unresolved: {} (conflict markers left in it, or a copy git set \
                     aside, named `path~HEAD`, still there). Resolve them, then end your turn. \
                     If you cannot, give up with fail_task.",
                    paths.join(", ")
                ),
            }
        }
        Check::VerifyFailed { status, tail } => {
            rounds.verify_failures += 1;
            let command = config.verify_command.as_deref().unwrap_or_default();
            let how = match status {
                Some(code) => format!("exit status {code}"),
                None => "ended by a signal or task_timeout".to_owned(),
            };
            let printed = tail.trim();
            if rounds.verify_failures >= config.max_verify_attempts {
                let output = match printed {
                    "" => "It printed nothing.".to_owned(),
                    tail => format!("The output ended:\n{tail}"),
                };
                return Step::Fail(format!(
                    "`{command}` failed ({how}) on its work merged with {integration}, \
                     {} time(s) (max_verify_attempts); its work is kept on branch {branch}. \
                     {output}",
                    rounds.verify_failures
                ));
            }
            let output = match printed {
                "" => "It printed nothing.".to_owned(),
                _ => format!("The end of its output:\n```\n{tail}\n```"),
            };
            Step::SendBack {
                stage: TaskStage::Working,
                message: format!(
                    "Your work, merged with {integration}, fails the verification command \
                     `{command}` ({how}). {output}\nFix it in this worktree, then end your \
                     turn; the command runs again."
                ),
            }
        }
        Check::ChangesRequested { reasons } => {
            rounds.reviews_without_verdict = 0;
            rounds.changes_requested += 1;
            if rounds.changes_requested >= config.max_review_rounds {
                return Step::Fail(format!(
                    "the reviewer asked for changes {} time(s) (max_review_rounds); its \
                     work is kept on branch {branch}. Last request: {reasons}",
                    rounds.changes_requested
                ));
            }
            Step::SendBack {
                stage: TaskStage::Working,
                message: format!(
                    "A reviewer read your work and asks for changes:\n{reasons}\nMake \
                     them in this worktree, then end your turn."
                ),
            }
        }
    }
}

fn conflict_failure(integration: &str, branch: &str, paths: &[String]) -> String {
    format!(
        "merging {integration} into its work conflicts in {} and its agent did not resolve \
         it; its work is kept on branch {branch}",
        paths.join(", ")
    )
}

/// How much of a task's diff is read for its review, in bytes: enough to count what
/// the cut leaves out in most diffs, and bounded however large the work.
pub const REVIEW_DIFF_READ: usize = 4 * MAX_REVIEW_DIFF;

/// A task's diff as its reviewer's prompt holds it: whole up to `MAX_REVIEW_DIFF`
/// bytes, else cut at a line with a note saying how much was left out. `whole` says
/// whether `diff` is all of it or only its start.
pub fn diff_for_review(diff: &str, whole: bool) -> String {
    let diff = diff.trim_end();
    if whole && diff.len() <= MAX_REVIEW_DIFF {
        return diff.to_owned();
    }
    let cut = diff
        .match_indices('\n')
        .map(|(at, _)| at)
        .take_while(|&at| at <= MAX_REVIEW_DIFF)
        .last()
        .unwrap_or(0);
    let left_out = diff[cut..].lines().filter(|line| !line.is_empty()).count();
    let more = if whole { "" } else { "over " };
    format!(
        "{}\n… (the diff is cut here: {more}{left_out} more lines; read the changed files for the rest)",
        &diff[..cut]
    )
}

/// The first `max` lines of `text`, saying how many were left out.
fn clip_lines(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text.trim_end().to_owned();
    }
    format!(
        "{}\n… ({} more lines)",
        lines[..max].join("\n"),
        lines.len() - max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gated(verify: Option<&str>, review: bool) -> Config {
        Config {
            verify_command: verify.map(String::from),
            review,
            ..Config::default()
        }
    }

    fn after(check: Check, rounds: &mut Rounds, config: &Config) -> Step {
        next(check, rounds, config, "baton/integration", "baton/task-001")
    }

    #[test]
    fn without_a_gate_finished_work_is_brought_in_and_lands() {
        let config = gated(None, false);
        let mut rounds = Rounds::default();
        assert_eq!(after(Check::Worked, &mut rounds, &config), Step::BringIn);
        assert_eq!(after(Check::BroughtIn, &mut rounds, &config), Step::Land);
        assert_eq!(after(Check::Moved, &mut rounds, &config), Step::BringIn);
    }

    #[test]
    fn the_verification_and_the_review_come_in_order_before_the_landing() {
        let config = gated(Some("cargo test -q"), true);
        let mut rounds = Rounds::default();
        assert_eq!(after(Check::BroughtIn, &mut rounds, &config), Step::Verify);
        assert_eq!(after(Check::Verified, &mut rounds, &config), Step::Review);
        assert_eq!(after(Check::Approved, &mut rounds, &config), Step::Land);
    }

    #[test]
    fn a_failing_verification_goes_back_to_the_agent_until_the_bound() {
        let config = gated(Some("make check"), false);
        let mut rounds = Rounds::default();
        let failed = || Check::VerifyFailed {
            status: Some(2),
            tail: "test parse ... FAILED".into(),
        };
        let Step::SendBack { stage, message } = after(failed(), &mut rounds, &config) else {
            panic!("the first failure goes back to the agent");
        };
        assert_eq!(stage, TaskStage::Working);
        assert!(
            message.contains("`make check` (exit status 2)"),
            "{message}"
        );
        assert!(message.contains("test parse ... FAILED"), "{message}");
        let Step::Fail(reason) = after(failed(), &mut rounds, &config) else {
            panic!("max_verify_attempts (2) failures fail the task");
        };
        assert!(
            reason.contains("`make check` failed (exit status 2)"),
            "{reason}"
        );
        assert!(reason.contains("test parse ... FAILED"), "{reason}");
        assert!(reason.contains("baton/task-001"), "{reason}");

        let mut rounds = Rounds::default();
        let silent = || Check::VerifyFailed {
            status: Some(1),
            tail: "\n".into(),
        };
        let Step::SendBack { message, .. } = after(silent(), &mut rounds, &config) else {
            panic!("a first failure goes back to the agent");
        };
        assert!(
            message.contains("It printed nothing.") && !message.contains("```"),
            "{message}"
        );
        let Step::Fail(reason) = after(silent(), &mut rounds, &config) else {
            panic!("max_verify_attempts (2) failures fail the task");
        };
        assert!(reason.ends_with("It printed nothing."), "{reason}");
    }

    #[test]
    fn a_conflict_goes_back_to_the_agent_with_the_paths_and_their_change() {
        let config = gated(None, false);
        let mut rounds = Rounds::default();
        let conflict = || Check::Conflict {
            paths: vec!["README.md".into()],
            theirs: "-a project\n+first".into(),
        };
        let Step::SendBack { stage, message } = after(conflict(), &mut rounds, &config) else {
            panic!("a conflict goes back to the agent");
        };
        assert_eq!(stage, TaskStage::Resolving);
        assert!(message.contains("conflicts in README.md"), "{message}");
        assert!(message.contains("+first"), "{message}");
        let unresolved = Check::Unresolved {
            paths: vec!["README.md".into()],
        };
        assert!(matches!(
            after(unresolved, &mut rounds, &config),
            Step::SendBack { .. }
        ));
        let Step::Fail(reason) = after(conflict(), &mut rounds, &config) else {
            panic!("past max_verify_attempts the task fails");
        };
        assert!(reason.contains("conflicts in README.md"), "{reason}");
        assert!(reason.contains("branch baton/task-001"), "{reason}");
    }

    #[test]
    fn review_rounds_are_bounded() {
        let config = gated(None, true);
        let mut rounds = Rounds::default();
        let asked = || Check::ChangesRequested {
            reasons: "name the error".into(),
        };
        let Step::SendBack { message, .. } = after(asked(), &mut rounds, &config) else {
            panic!("the first request goes back to the agent");
        };
        assert!(message.contains("name the error"), "{message}");
        assert!(matches!(
            after(asked(), &mut rounds, &config),
            Step::Fail(_)
        ));
    }

    #[test]
    fn a_reviewer_without_a_verdict_is_started_once_more_then_the_task_fails() {
        let config = gated(None, true);
        let mut rounds = Rounds::default();
        let silent = || Check::NoVerdict {
            why: "it ended its turn without calling review_task".into(),
        };
        assert_eq!(after(silent(), &mut rounds, &config), Step::Review);
        let Step::Fail(reason) = after(silent(), &mut rounds, &config) else {
            panic!("a second review without a verdict fails the task");
        };
        assert!(reason.contains("without a verdict 2 times"), "{reason}");
        assert!(reason.contains("review_task"), "{reason}");
        assert!(reason.contains("branch baton/task-001"), "{reason}");
    }

    #[test]
    fn a_verdict_between_silent_reviews_starts_the_count_again() {
        let config = gated(None, true);
        let mut rounds = Rounds::default();
        let silent = || Check::NoVerdict {
            why: "no call".into(),
        };
        assert_eq!(after(silent(), &mut rounds, &config), Step::Review);
        let asked = Check::ChangesRequested {
            reasons: "name the error".into(),
        };
        assert!(matches!(
            after(asked, &mut rounds, &config),
            Step::SendBack { .. }
        ));
        assert_eq!(after(silent(), &mut rounds, &config), Step::Review);
    }

    #[test]
    fn the_last_reasons_are_kept_when_the_review_rounds_are_spent() {
        let config = Config {
            max_review_rounds: 1,
            ..gated(None, true)
        };
        let mut rounds = Rounds::default();
        let asked = Check::ChangesRequested {
            reasons: "the error is swallowed in parse()".into(),
        };
        let Step::Fail(reason) = after(asked, &mut rounds, &config) else {
            panic!("max_review_rounds 1: the first request fails the task");
        };
        assert!(
            reason.contains("the error is swallowed in parse()"),
            "{reason}"
        );
        assert!(reason.contains("max_review_rounds"), "{reason}");
    }

    #[test]
    fn a_long_diff_is_cut_at_a_line_and_says_so() {
        let short = "+one\n+two\n";
        assert_eq!(diff_for_review(short, true), "+one\n+two");
        // 100 bytes a line, newline included.
        let line = format!("+{}\n", "x".repeat(98));
        let long = line.repeat(MAX_REVIEW_DIFF / 100 + 50);
        let cut = diff_for_review(&long, true);
        assert!(cut.len() < MAX_REVIEW_DIFF + 200, "{}", cut.len());
        let (kept, note) = cut.rsplit_once('\n').unwrap();
        assert!(kept.lines().all(|kept| kept.len() == 99), "cut at a line");
        assert!(
            note.contains("the diff is cut here: 50 more lines"),
            "{note}"
        );
        // Only the start read: what is left out is more than what was read of it.
        let start = diff_for_review(&long[..long.len() - 1_000], false);
        assert!(
            start.ends_with("cut here: over 40 more lines; read the changed files for the rest)"),
            "{start}"
        );
    }

    #[test]
    fn a_task_resumes_at_its_stage() {
        assert_eq!(resume_at(None), None);
        assert_eq!(resume_at(Some(TaskStage::Working)), None);
        assert_eq!(resume_at(Some(TaskStage::Verifying)), Some(Step::BringIn));
        assert_eq!(resume_at(Some(TaskStage::Resolving)), Some(Step::BringIn));
        assert_eq!(resume_at(Some(TaskStage::Reviewing)), Some(Step::Review));
    }
}
