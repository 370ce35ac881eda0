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
}

/// Where the task is while `step` is carried out.
pub fn stage_of(step: &Step) -> Option<TaskStage> {
    match step {
        Step::BringIn | Step::Verify | Step::Land => Some(TaskStage::Verifying),
        Step::Review => Some(TaskStage::Reviewing),
        Step::SendBack { stage, .. } => Some(*stage),
        Step::Fail(_) => None,
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
        Check::Approved => Step::Land,
        Check::Conflict { paths, theirs } => {
            rounds.conflicts += 1;
            if rounds.conflicts > config.max_verify_attempts {
                return Step::Fail(conflict_failure(integration, branch, &paths));
            }
            Step::SendBack {
                stage: TaskStage::Resolving,
                message: format!(
                    "Merging {integration} into your work conflicts in {}. This worktree \
                     holds the merge, with conflict markers in those files. What {integration} \
                     changed in them:\n```diff\n{}\n```\nResolve every conflict keeping both \
                     sides' intent and remove every marker; do not commit, baton does. Then \
                     end your turn. If you cannot, give up with fail_task.",
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
                    "Conflict markers are still in {}. Resolve them (remove every marker), \
                     then end your turn. If you cannot, give up with fail_task.",
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
            if rounds.verify_failures >= config.max_verify_attempts {
                return Step::Fail(format!(
                    "`{command}` failed ({how}) on its work merged with {integration}, \
                     {} time(s) (max_verify_attempts); its work is kept on branch {branch}. \
                     The output ended:\n{tail}",
                    rounds.verify_failures
                ));
            }
            Step::SendBack {
                stage: TaskStage::Working,
                message: format!(
                    "Your work, merged with {integration}, fails the verification command \
                     `{command}` ({how}). The end of its output:\n```\n{tail}\n```\nFix it \
                     in this worktree, then end your turn; the command runs again."
                ),
            }
        }
        Check::ChangesRequested { reasons } => {
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
    fn a_task_resumes_at_its_stage() {
        assert_eq!(resume_at(None), None);
        assert_eq!(resume_at(Some(TaskStage::Working)), None);
        assert_eq!(resume_at(Some(TaskStage::Verifying)), Some(Step::BringIn));
        assert_eq!(resume_at(Some(TaskStage::Resolving)), Some(Step::BringIn));
        assert_eq!(resume_at(Some(TaskStage::Reviewing)), Some(Step::Review));
    }
}
