//! The checks of a state file a client loads: every task, discovery and timeline
//! record, before anything is replaced.

use std::collections::{HashMap, HashSet};

use baton_protocol::{BatonError, CoordinationState, TaskId, TaskStatus};

use super::{
    cycle_error, description, parent_loop, priority, session_id, settings, state_config,
    topological_order, unknown_dependency,
};

/// The most one task may have cost, as a state file says: far past any real spend, and
/// low enough that the costs of every task of a batch add up to a number, not infinity.
const MAX_TASK_COST_USD: f64 = 1e9;

/// The most times a state file may say a task was taken: far past any real retrying
/// (`max_attempts` is at most 100 a round), and far from where counting on overflows.
const MAX_TASK_ATTEMPTS: u32 = 1_000_000;

/// The highest run number a state file's timeline may hold, for the same reason.
const MAX_RUNS: u64 = 1_000_000_000;
/// The highest task number a state file's ids may hold: new tasks are numbered after
/// the highest, and a board must have numbers left to add to.
const MAX_TASK_NUMBER: u64 = 1_000_000_000_000;

/// Whether `id` is safe as a file and branch name: no separators, no hidden or
/// option-like start, no whitespace.
fn safe_id(id: &str) -> bool {
    id.len() <= 128
        && !id.starts_with(['.', '-'])
        // What git refuses in a branch name.
        && !id.ends_with(['.'])
        && !id.ends_with(".lock")
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// How far ahead of this machine's clock a state file's claim may be dated: another
/// machine's clock may run a little ahead.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Refuses a state file whose claim is dated ahead of `now`: its age would count from
/// then, and it would not expire before.
pub fn claims_dated_by(
    state: &CoordinationState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), BatonError> {
    let ahead = state.tasks.iter().find_map(|task| {
        let at = task.claimed_at.filter(|at| *at > now + CLOCK_SKEW)?;
        Some((&task.id, at))
    });
    match ahead {
        Some((id, at)) => Err(BatonError::invalid(format!(
            "the state file is not valid: {id} has claimed_at {}, after now ({}), so its claim would not expire before then; a claim is dated when it is made: correct claimed_at",
            at.to_rfc3339(),
            now.to_rfc3339()
        ))),
        None => Ok(()),
    }
}

/// Checks a whole state file before it replaces anything. Answers the tasks' positions
/// in dependency order. It is long because it is one list of checks, each a few lines,
/// read top to bottom like the file format it checks.
pub fn state(state: &CoordinationState) -> Result<Vec<usize>, BatonError> {
    let bad =
        |message: String| BatonError::invalid(format!("the state file is not valid: {message}"));
    let mut position = HashMap::new();
    for (i, task) in state.tasks.iter().enumerate() {
        if task.id.as_str().trim().is_empty() {
            return Err(bad(format!("task {} has an empty id", i + 1)));
        }
        if !safe_id(task.id.as_str()) {
            return Err(bad(format!(
                "task {} has the id {:?}; an id names the task's branch and files, so it holds only letters, digits, '.', '_' and '-', does not start with '.' or '-' or end with '.' or '.lock', has no '..', and is at most 128 bytes",
                i + 1,
                task.id.as_str()
            )));
        }
        if task
            .id
            .number()
            .is_some_and(|number| number > MAX_TASK_NUMBER)
        {
            return Err(bad(format!(
                "task {} has the id {}; new tasks are numbered after the highest, so a \
                 task's number is at most {MAX_TASK_NUMBER}",
                i + 1,
                task.id
            )));
        }
        if position.insert(&task.id, i).is_some() {
            return Err(bad(format!("task id {} appears twice", task.id)));
        }
    }
    let by_id = |id: &TaskId| position.get(id).map(|&i| &state.tasks[i]);
    for task in &state.tasks {
        description(&task.description)
            .map_err(|err| bad(format!("{}: {}", task.id, err.message)))?;
        priority(task.priority).map_err(|err| bad(format!("{}: {}", task.id, err.message)))?;
        let cost = task.usage.cost_usd;
        if !(0.0..=MAX_TASK_COST_USD).contains(&cost) {
            return Err(bad(format!(
                "{}: usage.cost_usd is {cost}; what was spent is 0 or more, and under ${MAX_TASK_COST_USD:e}",
                task.id
            )));
        }
        if task.attempts > MAX_TASK_ATTEMPTS {
            return Err(bad(format!(
                "{}: attempts is {}; a task is taken at most {MAX_TASK_ATTEMPTS} times",
                task.id, task.attempts
            )));
        }
        if let Some(session) = &task.session_id {
            session_id(session).map_err(|err| bad(format!("{}: {}", task.id, err.message)))?;
        }
        let mut seen = HashSet::new();
        for dependency in &task.dependencies {
            let Some(found) = by_id(dependency) else {
                return Err(bad(unknown_dependency(&task.id, dependency).message));
            };
            if !seen.insert(dependency) {
                return Err(bad(format!(
                    "{} names dependency {dependency} twice",
                    task.id
                )));
            }
            let started = task.status.is_held() || task.status == TaskStatus::Done;
            if started && found.status != TaskStatus::Done {
                return Err(bad(format!(
                    "{} is {} but its dependency {dependency} is {}",
                    task.id, task.status, found.status
                )));
            }
        }
        if task.status.is_held() && task.claimed_by.as_deref().is_none_or(str::is_empty) {
            return Err(bad(format!(
                "{} is {} but claimed by no agent",
                task.id, task.status
            )));
        }
        if task.status.is_held() && task.claimed_at.is_none() {
            return Err(bad(format!(
                "{} is {} but has no claimed_at, so its claim could never expire",
                task.id, task.status
            )));
        }
        if let Some(dependency) = &task.failed_dependency {
            if task.status != TaskStatus::Failed || !task.dependencies.contains(dependency) {
                return Err(bad(format!(
                    "{} is {} but names {dependency} as the dependency it failed for; \
                     only a failed task names one, among its dependencies",
                    task.id, task.status
                )));
            }
        }
        let mut subtasks = task
            .result
            .iter()
            .flat_map(|result| &result.subtasks_created);
        if let Some(subtask) = subtasks.find(|subtask| by_id(subtask).is_none()) {
            return Err(bad(format!(
                "{} names {subtask} among the subtasks it created, which does not exist",
                task.id
            )));
        }
        if let Some(parent) = &task.context.parent_task {
            if by_id(parent).is_none() {
                return Err(bad(format!(
                    "parent task {parent} of {} does not exist",
                    task.id
                )));
            }
        }
    }
    let ids = state.tasks.iter().map(|task| &task.id);
    parent_loop(ids, |id| by_id(id)?.context.parent_task.as_ref())
        .map_err(|err| bad(err.message))?;
    for record in &state.attempts {
        if !(1..=MAX_RUNS).contains(&record.run) {
            return Err(bad(format!(
                "attempts[{}] is of run {}; runs are numbered from 1 to {MAX_RUNS}",
                record.id, record.run
            )));
        }
        if record
            .ended_at
            .is_some_and(|ended| ended < record.started_at)
        {
            return Err(bad(format!(
                "attempts[{}] ended before it started; ended_at comes after started_at",
                record.id
            )));
        }
        if !(0.0..=MAX_TASK_COST_USD).contains(&record.cost_usd) {
            return Err(bad(format!(
                "attempts[{}]: cost_usd is {}; what was spent is 0 or more, and under ${MAX_TASK_COST_USD:e}",
                record.id, record.cost_usd
            )));
        }
    }
    for discovery in &state.discoveries {
        if let Some(task) = &discovery.related_task {
            if by_id(task).is_none() {
                return Err(bad(format!(
                    "a discovery names task {task}, which does not exist"
                )));
            }
        }
    }
    settings(&state_config(state)).map_err(|err| bad(err.message))?;
    let edges: Vec<Vec<usize>> = state
        .tasks
        .iter()
        .map(|task| task.dependencies.iter().map(|d| position[d]).collect())
        .collect();
    topological_order(&edges).map_err(|cycle| {
        let err = cycle_error(cycle.iter().map(|&i| &state.tasks[i].id));
        bad(err.message)
    })
}
