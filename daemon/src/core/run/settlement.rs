//! How an attempt's ending settles its task: done, back in the queue, or failed,
//! from the typed ending, the reason its agent was halted, and the configuration.

use baton_protocol::{Config, Task, TaskId, TaskResult};

use crate::core::validate;

/// Why an agent was told to stop before it ended by itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Halt {
    /// The run was stopped (by the user, the daemon's shutdown, or another task's
    /// spending of the run's budget): the task goes back to the queue.
    RunStopped(String),
    /// Its task's spending crossed `task_budget_usd`: the task fails with the figure.
    TaskBudget { spent: f64, budget: f64 },
    /// Its spending crossed `run_budget_usd`: the task fails with the figure.
    RunBudget { spent: f64, budget: f64 },
}

impl Halt {
    /// Why the agent was stopped, in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Halt::RunStopped(why) => why.clone(),
            Halt::TaskBudget { spent, budget } => {
                format!("its budget is spent: ${spent:.4} of task_budget_usd ${budget:.4}")
            }
            Halt::RunBudget { spent, budget } => {
                format!("the run's budget is spent: ${spent:.4} of run_budget_usd ${budget:.4}")
            }
        }
    }
}

/// What kind of fault ended an agent without a usable result, so that settling
/// never reads error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The agent program could not be started.
    Spawn,
    /// It printed something that is not stream-json.
    Garbage,
    /// It exited (or was killed) without a final result.
    NoResult,
    /// Claude Code's `.claude.json` could not be read: the agent's copy of the
    /// user's, or the user's own.
    DamagedClaudeConfig,
}

/// How one attempt at a task ended, as the runtime saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEnding {
    /// The agent answered and its work landed.
    Succeeded {
        output: String,
        files_modified: Vec<String>,
        files_created: Vec<String>,
    },
    /// The agent answered, but its work could not land (a merge conflict).
    NotLanded(String),
    /// The agent's final answer was an error; `reason` names its cause.
    AgentError { reason: String },
    /// The agent ended without a usable answer.
    Fault { kind: FaultKind, detail: String },
    /// It ran past `task_timeout`.
    TimedOut,
    /// It was told to stop; the halt of its seat says why.
    Stopped,
}

/// What happens to a task after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Complete(TaskResult),
    /// Back to the queue; the next attempt resumes the agent's session.
    Requeue(String),
    Fail(String),
    /// The task already ended while its agent worked (the agent gave up with
    /// `fail_task`, or the task was cancelled): nothing more to do.
    Keep,
}

/// Decides how an attempt settles. `task` is the task after the attempt was
/// recorded (its attempts and spending include this one); `halt` is why its agent
/// was stopped, if it was.
pub fn settle(
    task: &Task,
    ending: AttemptEnding,
    halt: Option<&Halt>,
    config: &Config,
) -> Settlement {
    let clipped = |text| validate::clipped(text, &task.id);
    match decide(task, ending, halt, config) {
        Settlement::Complete(mut result) => {
            result.output = clipped(result.output);
            Settlement::Complete(result)
        }
        Settlement::Requeue(reason) => Settlement::Requeue(clipped(reason)),
        Settlement::Fail(reason) => Settlement::Fail(clipped(reason)),
        Settlement::Keep => Settlement::Keep,
    }
}

fn decide(task: &Task, ending: AttemptEnding, halt: Option<&Halt>, config: &Config) -> Settlement {
    if task.status.is_finished() {
        return Settlement::Keep;
    }
    let timed_out = matches!(ending, AttemptEnding::TimedOut);
    let reason = match (ending, halt) {
        (_, Some(halt @ Halt::TaskBudget { .. })) => {
            return Settlement::Fail(format!(
                "{}; the agent was stopped. {}",
                halt.describe(),
                raise("task_budget_usd", &task.id)
            ));
        }
        (_, Some(halt @ Halt::RunBudget { .. })) => {
            return Settlement::Fail(format!(
                "{}; the agent was stopped. {}",
                halt.describe(),
                raise("run_budget_usd", &task.id)
            ));
        }
        (
            AttemptEnding::Succeeded {
                output,
                files_modified,
                files_created,
            },
            _,
        ) => {
            return Settlement::Complete(TaskResult {
                output,
                files_modified,
                files_created,
                ..TaskResult::default()
            });
        }
        (AttemptEnding::NotLanded(conflict), _) => return Settlement::Fail(conflict),
        (AttemptEnding::Stopped, Some(Halt::RunStopped(why))) => {
            return Settlement::Requeue(format!("{why} before it finished"));
        }
        (AttemptEnding::Stopped, None) => {
            return Settlement::Requeue("the run stopped before it finished".into());
        }
        (AttemptEnding::AgentError { reason }, _) => reason,
        (
            AttemptEnding::Fault {
                kind: FaultKind::DamagedClaudeConfig,
                detail,
            },
            _,
        ) => format!(
            "{detail}; Claude Code's .claude.json looks damaged: check that ~/.claude.json \
             (or the one in $CLAUDE_CONFIG_DIR) is valid JSON, then retry"
        ),
        (AttemptEnding::Fault { detail, .. }, _) => detail,
        (AttemptEnding::TimedOut, _) => format!(
            "TimeoutError: the agent ran past task_timeout ({} s); it and everything it started were ended",
            config.task_timeout
        ),
    };
    match config.task_budget_usd {
        Some(budget) if task.usage.cost_usd >= budget => Settlement::Fail(format!(
            "{reason}; its budget is spent: ${:.4} of task_budget_usd ${budget:.4}. {}",
            task.usage.cost_usd,
            raise("task_budget_usd", &task.id)
        )),
        _ if task.attempts < config.max_attempts => Settlement::Requeue(reason),
        _ if timed_out => {
            Settlement::Fail(format!("{reason}. {}", raise("task_timeout", &task.id)))
        }
        _ => Settlement::Fail(reason),
    }
}

/// What to do about a task failed by a limit: raise the limit, then retry it.
/// Why a task whose earlier attempts spent its whole budget fails before an agent
/// starts on it again; `None` while some of it is left.
pub fn spent_before_start(task: &TaskId, spent: f64, config: &Config) -> Option<String> {
    let budget = config.task_budget_usd.filter(|budget| spent >= *budget)?;
    Some(format!(
        "its budget is spent: ${spent:.4} of task_budget_usd ${budget:.4}, so no agent was \
         started. {}",
        raise("task_budget_usd", task)
    ))
}

fn raise(setting: &str, task: &TaskId) -> String {
    format!("To go on, raise {setting} (`baton config {setting} N`), then `baton retry {task}`")
}
