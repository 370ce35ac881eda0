//! Checks that run before anything changes, so that bad input changes nothing.

use std::collections::{HashMap, HashSet};

use baton_protocol::methods::{ConfigPatch, EditTaskParams, NewTask};
use baton_protocol::{BatonError, Config, CoordinationState, TaskId};

mod state_file;
mod texts;

pub use state_file::{claims_dated_by, state};
pub use texts::*;

pub const PRIORITIES: std::ops::RangeInclusive<u8> = 1..=10;

/// The most tasks one batch adds. With the 64 MiB a request may hold, it keeps the
/// answer (every task added, with all its fields) within what a client reads, so
/// that a batch that was added is never answered with an error.
pub const MAX_BATCH: usize = 100_000;

const PERMISSION_MODES: [&str; 5] = [
    "default",
    "acceptEdits",
    "plan",
    "bypassPermissions",
    "dontAsk",
];

pub fn priority(priority: u8) -> Result<(), BatonError> {
    if !PRIORITIES.contains(&priority) {
        return Err(BatonError::invalid(format!(
            "priority {priority} is outside 1..10; 1 is the most urgent, 5 the default"
        )));
    }
    Ok(())
}

/// The fields an edit gives, each held to what adding a task holds it to.
pub fn edit(edit: &EditTaskParams) -> Result<(), BatonError> {
    if let Some(text) = &edit.description {
        description(text)?;
    }
    if let Some(text) = &edit.hints {
        hints(text)?;
    }
    if let Some(files) = &edit.context_files {
        context_files(files)?;
    }
    if let Some(value) = edit.priority {
        priority(value)?;
    }
    if let Some(Some(name)) = &edit.model {
        model(name)?;
    }
    Ok(())
}

pub fn unknown_dependency(task: &TaskId, dependency: &TaskId) -> BatonError {
    BatonError::invalid(format!(
        "dependency {dependency} of {task} does not exist; `baton tasks` lists the ids"
    ))
}

/// Checks a batch of new tasks that will get `ids`, in order. A dependency or a parent
/// may name an existing task or another task of the batch. Answers the batch's
/// positions in an order where every task comes after its dependencies within the
/// batch.
pub fn new_tasks(
    batch: &[NewTask],
    ids: &[TaskId],
    exists: impl Fn(&TaskId) -> bool,
) -> Result<Vec<usize>, BatonError> {
    if batch.len() > MAX_BATCH {
        return Err(BatonError::invalid(format!(
            "a batch holds at most {MAX_BATCH} tasks and this one has {}; add them in several batches",
            batch.len()
        )));
    }
    let position: HashMap<&TaskId, usize> = ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    // A task refused is named by its place in the batch: it never got its id.
    let in_task = |place: usize, err: BatonError| match batch.len() {
        1 => err,
        _ => BatonError::new(
            err.kind,
            format!("task {} of the batch: {}", place + 1, err.message),
        ),
    };
    for (place, task) in batch.iter().enumerate() {
        description(&task.description).map_err(|err| in_task(place, err))?;
        hints(&task.hints).map_err(|err| in_task(place, err))?;
        context_files(&task.context_files).map_err(|err| in_task(place, err))?;
        priority(task.priority).map_err(|err| in_task(place, err))?;
        if let Some(model) = &task.model {
            self::model(model).map_err(|err| in_task(place, err))?;
        }
        for dependency in &task.dependencies {
            if !exists(dependency) && !position.contains_key(dependency) {
                let unknown = BatonError::invalid(format!(
                    "dependency {dependency} does not exist; `baton tasks` lists the ids"
                ));
                return Err(in_task(place, unknown));
            }
        }
        if let Some(parent) = &task.parent_task {
            if *parent == ids[place] {
                let own = BatonError::invalid(format!(
                    "{parent} cannot be its own parent; parent_task names the task it was split from"
                ));
                return Err(in_task(place, own));
            }
            if !exists(parent) && !position.contains_key(parent) {
                let unknown = BatonError::invalid(format!(
                    "parent task {parent} does not exist; `baton tasks` lists the ids"
                ));
                return Err(in_task(place, unknown));
            }
        }
    }
    let parents: HashMap<&TaskId, &TaskId> = batch
        .iter()
        .zip(ids)
        .filter_map(|(task, id)| Some((id, task.parent_task.as_ref()?)))
        .collect();
    // A task already there has no parent among the batch: a loop runs through it.
    parent_loop(ids, |id| parents.get(id).copied())?;
    let edges: Vec<Vec<usize>> = batch
        .iter()
        .map(|task| {
            task.dependencies
                .iter()
                .filter_map(|dependency| position.get(dependency).copied())
                .collect()
        })
        .collect();
    topological_order(&edges).map_err(|cycle| cycle_error(cycle.iter().map(|&i| &ids[i])))
}

pub fn cycle_error<'a>(cycle: impl Iterator<Item = &'a TaskId>) -> BatonError {
    let path: Vec<String> = cycle.map(TaskId::to_string).collect();
    if let [one, again] = path.as_slice() {
        if one == again {
            // A new task's own id is one its author may not know it would get.
            return BatonError::invalid(format!(
                "{one} would depend on itself (a cycle of one: {one} is its own id), so it could never start; remove {one} from its dependencies"
            ));
        }
    }
    BatonError::invalid(format!(
        "the dependencies form a cycle ({}), so none of them could ever start; remove one of them",
        path.join(" → ")
    ))
}

/// Refuses tasks that are, through their parents, their own parent: a task is
/// deleted only after its subtasks, so none of them could ever be deleted.
fn parent_loop<'a>(
    ids: impl IntoIterator<Item = &'a TaskId>,
    parent: impl Fn(&TaskId) -> Option<&'a TaskId>,
) -> Result<(), BatonError> {
    let mut settled: HashSet<&TaskId> = HashSet::new();
    for start in ids {
        let mut path: Vec<&TaskId> = Vec::new();
        let mut on_path: HashMap<&TaskId, usize> = HashMap::new();
        let mut next = Some(start);
        while let Some(id) = next.filter(|id| !settled.contains(id)) {
            if let Some(&from) = on_path.get(id) {
                let names: Vec<String> = path[from..]
                    .iter()
                    .chain([&id])
                    .map(|id| id.to_string())
                    .collect();
                return Err(BatonError::invalid(format!(
                    "the parent tasks form a loop ({}): a task is deleted only after its subtasks, so none of them could ever be; a task's parent_task names the task it was split from",
                    names.join(" → ")
                )));
            }
            on_path.insert(id, path.len());
            path.push(id);
            next = parent(id);
        }
        settled.extend(path);
    }
    Ok(())
}

/// Orders nodes so that each comes after the nodes it depends on (`edges[n]` are the
/// nodes `n` depends on). On a cycle, answers one, its first node repeated at the end.
pub fn topological_order(edges: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut waiting: Vec<usize> = edges.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); edges.len()];
    for (node, dependencies) in edges.iter().enumerate() {
        for &dependency in dependencies {
            dependents[dependency].push(node);
        }
    }
    let mut order: Vec<usize> = (0..edges.len()).filter(|&n| waiting[n] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        for &dependent in &dependents[order[next]] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                order.push(dependent);
            }
        }
        next += 1;
    }
    if order.len() == edges.len() {
        return Ok(order);
    }
    // Every node left waits on another node left: walk back until one repeats.
    let mut seen = HashMap::new();
    let mut node = (0..edges.len())
        .find(|&n| waiting[n] > 0)
        .expect("a node is left");
    let mut path = Vec::new();
    while !seen.contains_key(&node) {
        seen.insert(node, path.len());
        path.push(node);
        node = *edges[node]
            .iter()
            .find(|&&dependency| waiting[dependency] > 0)
            .expect("a waiting node waits on a waiting node");
    }
    let mut cycle = path.split_off(seen[&node]);
    cycle.push(node);
    Err(cycle)
}

/// The longest `task_timeout` a setting may give: a year is longer than any agent's
/// work, and a claim's age is counted in time that overflows long before `u64` does.
/// Asked of new settings only: a stored state keeps what earlier versions let in, and
/// a claim under a longer timeout never expires.
const MAX_TASK_TIMEOUT: u64 = 365 * 24 * 60 * 60;

/// The configuration a patch would make, if it is valid.
pub fn patched_config(config: &Config, patch: &ConfigPatch) -> Result<Config, BatonError> {
    if let Some(timeout) = patch
        .task_timeout
        .filter(|&timeout| timeout > MAX_TASK_TIMEOUT)
    {
        return Err(BatonError::invalid(format!(
            "task_timeout {timeout} is longer than one year ({MAX_TASK_TIMEOUT} seconds); give \
             the seconds an agent may work on a task, e.g. 3600"
        )));
    }
    // Asked of the templates a patch sets alone: earlier versions let a blank one in,
    // and it must not stand in the way of changing anything else.
    for (name, template) in [
        ("leader_prompt", &patch.leader_prompt),
        ("worker_prompt", &patch.worker_prompt),
        ("reviewer_prompt", &patch.reviewer_prompt),
    ] {
        if let Some(Some(text)) = template {
            if text.trim().is_empty() {
                return Err(BatonError::invalid(format!(
                    "{name} is empty, which would give its agents no instructions; write a template (`baton config {name} --show-default` prints the built-in one to start from), or none for the built-in one"
                )));
            }
        }
    }
    let mut next = config.clone();
    // Destructured without `..`, so that a new setting cannot be forgotten here.
    macro_rules! apply {
        ($($field:ident),*) => {{
            let ConfigPatch { $($field),* } = patch.clone();
            $(if let Some(value) = $field { next.$field = value; })*
        }};
    }
    apply!(
        max_workers,
        model,
        task_timeout,
        max_attempts,
        task_budget_usd,
        run_budget_usd,
        agent_command,
        agent_args,
        permission_mode,
        allowed_tools,
        isolation,
        integration_branch,
        leader_prompt,
        worker_prompt,
        verify_command,
        max_verify_attempts,
        review,
        reviewer_prompt,
        max_review_rounds,
        keep_branches
    );
    self::config(&next)?;
    Ok(next)
}

/// A configuration a request makes: its texts within their limits, sound, and its
/// integration branch one git takes as a branch.
pub fn config(config: &Config) -> Result<(), BatonError> {
    texts::config_texts(config)?;
    settings(config)?;
    let branch = &config.integration_branch;
    if !git_branch_name(branch) {
        return Err(BatonError::invalid(format!(
            "integration_branch `{branch}` is not a name git takes for a branch: it may not start with '-' or '.', hold '..', '@{{', '//' or a control character, or end with '/', '.' or '.lock'"
        )));
    }
    Ok(())
}

/// What `git check-ref-format --branch` allows, beside what [`settings`] checks. Not
/// asked of a stored state, which keeps what earlier versions let in.
fn git_branch_name(name: &str) -> bool {
    !name.starts_with(['-', '/'])
        && !name.ends_with(['/', '.'])
        && name != "@"
        && !["..", "@{", "//"].iter().any(|part| name.contains(part))
        && !name.chars().any(char::is_control)
        && name
            .split('/')
            .all(|part| !part.starts_with('.') && !part.ends_with(".lock"))
}

/// Whether a configuration can be run with, whatever the size of its texts: a stored
/// state keeps what earlier versions let in.
fn settings(config: &Config) -> Result<(), BatonError> {
    if !(1..=64).contains(&config.max_workers) {
        return Err(BatonError::invalid(format!(
            "max_workers {} is outside 1..64: it is how many worker agents run at once; give 1 to 64 ({} by default)",
            config.max_workers,
            Config::default().max_workers
        )));
    }
    if config.task_timeout == 0 {
        return Err(BatonError::invalid(format!(
            "task_timeout must be at least 1 second: it is how long an agent may work on a task ({} by default)",
            Config::default().task_timeout
        )));
    }
    if !(1..=100).contains(&config.max_attempts) {
        return Err(BatonError::invalid(format!(
            "max_attempts {} is outside 1..100: it is how often a task is tried before it fails; give 1 to 100 ({} by default)",
            config.max_attempts,
            Config::default().max_attempts
        )));
    }
    for (name, bound) in [
        ("max_verify_attempts", config.max_verify_attempts),
        ("max_review_rounds", config.max_review_rounds),
    ] {
        if !(1..=100).contains(&bound) {
            return Err(BatonError::invalid(format!(
                "{name} {bound} is outside 1..100; give 1 to 100"
            )));
        }
    }
    if config
        .verify_command
        .as_deref()
        .is_some_and(|command| command.trim().is_empty())
    {
        return Err(BatonError::invalid(
            "verify_command is empty; give a command (`cargo test -q`), or none for no verification (null in JSON)",
        ));
    }
    for (name, budget) in [
        ("task_budget_usd", config.task_budget_usd),
        ("run_budget_usd", config.run_budget_usd),
    ] {
        if budget.is_some_and(|usd| !usd.is_finite() || usd <= 0.0) {
            return Err(BatonError::invalid(format!(
                "{name} must be a positive number of dollars, or none for no limit (null in JSON)"
            )));
        }
    }
    if config.model.trim().is_empty() {
        return Err(BatonError::invalid("model is empty; name a Claude model"));
    }
    if config.agent_command.trim().is_empty() {
        return Err(BatonError::invalid(
            "agent_command is empty; name the Claude Code program (`claude`)",
        ));
    }
    let branch = &config.integration_branch;
    if !git_takes_as_branch(branch) {
        return Err(BatonError::invalid(format!(
            "integration_branch `{branch}` is not a name git takes for a branch (no spaces, \
             `..`, `@{{`, any of ~^:?*[\\, a part starting with `.` or ending in `.lock`, \
             nor HEAD); e.g. `baton/integration`"
        )));
    }
    if !PERMISSION_MODES.contains(&config.permission_mode.as_str()) {
        return Err(BatonError::invalid(format!(
            "permission_mode `{}` is not one of {}",
            config.permission_mode,
            PERMISSION_MODES.join(", ")
        )));
    }
    Ok(())
}

/// The configuration a state brings: its own, or else the reference's two fields
/// over the defaults.
pub fn state_config(state: &CoordinationState) -> Config {
    state.config.clone().unwrap_or_else(|| Config {
        max_workers: state.max_parallel_workers,
        task_timeout: state.task_timeout_seconds,
        ..Config::default()
    })
}

/// Whether git takes `name` for a branch (`git check-ref-format --branch`'s rules).
fn git_takes_as_branch(name: &str) -> bool {
    let forbidden = |c: char| c.is_ascii_control() || c == ' ' || "~^:?*[\\".contains(c);
    !name.is_empty()
        && name != "HEAD"
        && name != "@"
        && !name.starts_with('-')
        && !name.ends_with(['/', '.'])
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains(forbidden)
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_named_node_by_node() {
        // 0 -> 1 -> 2 -> 1 (0 depends on 1, 1 on 2, 2 on 1)
        let cycle = topological_order(&[vec![1], vec![2], vec![1]]).unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        assert!(
            cycle == vec![1, 2, 1] || cycle == vec![2, 1, 2],
            "{cycle:?}"
        );
    }

    #[test]
    fn dependencies_come_first() {
        let order = topological_order(&[vec![2], vec![], vec![1]]).unwrap();
        assert_eq!(order, vec![1, 2, 0]);
    }
}
