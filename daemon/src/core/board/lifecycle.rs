//! A task's life after it is added: claim, start, attempts, release, completion,
//! failure (cascading to every task that depends on it), cancel, retry and the
//! expiry of outside agents' claims.

use std::collections::BTreeSet;

use baton_protocol::{
    BatonError, Event, OutsideClaim, Task, TaskId, TaskResult, TaskStage, TaskStatus,
};

use super::{Attempt, Board, Events, Now};
use crate::core::{run, validate};

impl Board {
    /// Hands the most urgent ready task to `agent_id`, an agent outside the daemon.
    pub fn claim(
        &mut self,
        agent_id: &str,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        self.claim_as(agent_id, false, &BTreeSet::new(), now)
    }

    /// Hands the most urgent ready task to an agent the daemon runs, passing over tasks
    /// that name any of the `busy` context files (agents sharing one checkout must not
    /// work on the same files at once).
    pub fn claim_supervised(
        &mut self,
        agent_id: &str,
        busy: &BTreeSet<String>,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        self.claim_as(agent_id, true, busy, now)
    }

    fn claim_as(
        &mut self,
        agent_id: &str,
        supervised: bool,
        busy: &BTreeSet<String>,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        validate::agent_id(agent_id)?;
        self.settle_chains();
        let mut events = Vec::new();
        let id = loop {
            let nodes = &self.nodes;
            let free = |id: &TaskId| {
                !nodes[id]
                    .rest()
                    .is_some_and(|rest| rest.files.iter().any(|file| busy.contains(file)))
            };
            let Some(id) = self.ready.pop_first_where(free) else {
                return Ok((None, events));
            };
            // An agent of a run given nothing to spend could do nothing: the task
            // fails as it would go out.
            let spent = self.nodes[&id].cost_usd();
            match supervised
                .then(|| run::spent_before_start(&id, spent, &self.run_config()))
                .flatten()
            {
                Some(reason) => {
                    let task =
                        self.finish_unsuccessfully(&id, TaskStatus::Failed, reason, None, now);
                    events.push(Event::TaskFailed(task));
                    self.cascade_failure(&id, now, &mut events);
                }
                None => break id,
            }
        };
        let task = self.update(&id, |task| {
            task.status = TaskStatus::Claimed;
            task.claimed_by = Some(agent_id.to_owned());
            task.claimed_at = Some(now);
            task.attempts = task.attempts.saturating_add(1);
            task.supervised = supervised;
        });
        self.last_activity = Some(now);
        events.push(Event::TaskUpdated(task.clone()));
        Ok((Some(task), events))
    }

    /// Records what one attempt at a task cost and where its session is.
    pub fn record_attempt(
        &mut self,
        id: &TaskId,
        attempt: Attempt,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        self.node(id)?;
        self.cost_usd += attempt.usage.cost_usd;
        self.pay_open_record(id, attempt.usage.cost_usd);
        self.changes.tasks.insert(id.clone());
        let node = self.nodes.get_mut(id).expect("checked above");
        let rest = node.rest_mut();
        rest.usage.add(&attempt.usage);
        if attempt.session_id.is_some() {
            rest.session_id = attempt.session_id;
        }
        rest.permission_denials.extend(attempt.permission_denials);
        let task = node.task();
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Puts a held task back in the queue (the attempt stays counted), saying why.
    pub fn release(
        &mut self,
        id: &TaskId,
        reason: &str,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        let status = self.task(id)?.status;
        if !status.is_held() {
            return Err(BatonError::orchestration(format!(
                "task {id} is {status}; only a claimed or in-progress task can go back to the queue"
            )));
        }
        let task = self.update(id, |task| {
            task.status = TaskStatus::Available;
            task.claimed_by = None;
            task.claimed_at = None;
            task.supervised = false;
            task.result.get_or_insert_default().error = Some(reason.to_owned());
            // Work is not resumed half done: the next attempt enters it again, and
            // its run counts that. A later stage is kept, to go on from.
            if task.stage == Some(TaskStage::Working) {
                task.stage = None;
            }
        });
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Tasks whose agents the daemon ran: at a restart those agents are gone.
    pub fn supervised(&self) -> Vec<TaskId> {
        self.held
            .iter()
            .filter(|id| self.nodes[*id].supervised)
            .cloned()
            .collect()
    }

    /// A held task moves to `stage` of its way to the integration branch. The stage
    /// outlives a release, so that a task whose daemon stopped resumes there; so
    /// does `answer`, its agent's last answer, which its agent is not asked again.
    pub fn set_stage(
        &mut self,
        id: &TaskId,
        stage: TaskStage,
        answer: Option<&str>,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        self.check_held(id, "change its stage")?;
        let was = self.node(id)?.stage;
        if let Some(run) = self.run.as_mut() {
            run.entered(id, was, stage);
        }
        // A task resumed at the stage it was left in enters it in this run (counted
        // above), and is not changed by it.
        if was == Some(stage) && answer.is_none() {
            return Ok((self.task(id)?, Vec::new()));
        }
        let task = self.update(id, |task| {
            task.stage = Some(stage);
            if let Some(answer) = answer {
                task.result.get_or_insert_default().output =
                    validate::clipped(answer.to_owned(), &task.id);
            }
        });
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// A claimed task is being worked on.
    pub fn start_task(&mut self, id: &TaskId, now: Now) -> Result<(Task, Events), BatonError> {
        let status = self.task(id)?.status;
        if status != TaskStatus::Claimed {
            return Err(BatonError::orchestration(format!(
                "task {id} is {status}; only a claimed task can start"
            )));
        }
        let task = self.update(id, |task| task.status = TaskStatus::InProgress);
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Completes a task with the result a client gives: each file it names is a path.
    pub fn complete(
        &mut self,
        id: &TaskId,
        result: TaskResult,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        validate::result_files(&result)?;
        if let Some(unknown) =
            (result.subtasks_created.iter()).find(|id| !self.nodes.contains_key(*id))
        {
            return Err(BatonError::invalid(format!(
                "the result names {unknown} among the subtasks created, which does not exist; \
                 name the tasks added for this one (`baton tasks` lists them)"
            )));
        }
        self.complete_with(id, result, now)
    }

    /// Completes a task with `result`, held to the limits every result is. The
    /// runtime's own results come here directly: their files are what git saw of the
    /// agent's work, a file whose name is blanks included, and a true account must
    /// not fail the task.
    pub(super) fn complete_with(
        &mut self,
        id: &TaskId,
        result: TaskResult,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        self.check_held(id, "complete")?;
        validate::result(&result)?;
        let mut events = self.share_discoveries_of(id, &result, now)?;
        let task = self.update(id, |task| {
            let earlier = task.result.take().unwrap_or_default();
            task.result = Some(Box::new(merge_results(*earlier, result)));
            task.status = TaskStatus::Done;
            task.completed_at = Some(now);
            task.supervised = false;
            task.stage = None;
        });
        self.last_activity = Some(now);
        events.push(Event::TaskCompleted(task.clone()));
        Ok((task, events))
    }

    pub fn fail(
        &mut self,
        id: &TaskId,
        error: &str,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        if error.trim().is_empty() {
            return Err(BatonError::invalid(
                "the error is empty; say why the task failed",
            ));
        }
        validate::report("error", error)?;
        self.check_unfinished(id)?;
        let task = self.finish_unsuccessfully(id, TaskStatus::Failed, error.to_owned(), None, now);
        let mut events = vec![Event::TaskFailed(task.clone())];
        self.cascade_failure(id, now, &mut events);
        self.last_activity = Some(now);
        Ok((task, events))
    }

    pub fn cancel(&mut self, id: &TaskId, now: Now) -> Result<(Task, Events), BatonError> {
        self.check_unfinished(id)?;
        let task =
            self.finish_unsuccessfully(id, TaskStatus::Cancelled, "cancelled".into(), None, now);
        let mut events = vec![Event::TaskFailed(task.clone())];
        self.cascade_failure(id, now, &mut events);
        self.last_activity = Some(now);
        Ok((task, events))
    }

    /// Reopens a failed or cancelled task, and every task that failed because of it.
    pub fn retry(&mut self, id: &TaskId, now: Now) -> Result<(Vec<Task>, Events), BatonError> {
        let node = self.node(id)?;
        if !matches!(node.status, TaskStatus::Failed | TaskStatus::Cancelled) {
            return Err(BatonError::orchestration(format!(
                "task {id} is {}; only a failed or cancelled task can be retried",
                node.status
            )));
        }
        if let Some(blocker) = self.unfinishable_dependency(id) {
            let message = if node.failed_dependency().is_some() {
                let root = self.failure_root(id);
                format!(
                    "task {id} failed because {root} {}; retry {root}, which reopens {id} too",
                    how_it_ended(self.nodes[root].status)
                )
            } else {
                let root = self.failure_root(blocker);
                format!(
                    "task {id} depends on {blocker}, which is {}; retry {root} first",
                    self.nodes[blocker].status
                )
            };
            return Err(BatonError::orchestration(message));
        }
        let mut reopened = Vec::new();
        let mut events = Vec::new();
        let mut pending = vec![id.clone()];
        while let Some(id) = pending.pop() {
            let task = self.update(&id, |task| {
                task.status = TaskStatus::Available;
                task.claimed_by = None;
                task.claimed_at = None;
                task.completed_at = None;
                task.result = None;
                task.failed_dependency = None;
                task.stage = None;
            });
            events.push(Event::TaskUpdated(task.clone()));
            reopened.push(task);
            for dependent in self.nodes[&id].dependents.clone() {
                let failed_for = self.nodes[&dependent].failed_dependency();
                if failed_for == Some(&id) {
                    pending.push(dependent);
                }
            }
        }
        // A reopened task may still wait on another dependency that failed meanwhile
        // (unless that already failed it again, through a task reopened before it).
        for task in reopened.clone() {
            if self.nodes[&task.id].status != TaskStatus::Available {
                continue;
            }
            let blocker = self.unfinishable_dependency(&task.id).cloned();
            if let Some(blocker) = blocker {
                self.fail_for_dependency(&task.id, &blocker, now, &mut events);
            }
        }
        self.last_activity = Some(now);
        let reopened = reopened
            .iter()
            .map(|task| self.nodes[&task.id].task())
            .collect();
        Ok((reopened, events))
    }

    /// Outside agents' claims older than the task timeout go back to the queue (the
    /// attempt counts). The daemon times out its own agents itself.
    pub fn expire_claims(&mut self, now: Now) -> Events {
        let timeout = self.claim_timeout();
        let expired: Vec<TaskId> = self
            .held
            .iter()
            .filter(|id| {
                let node = &self.nodes[*id];
                !node.supervised && node.claimed_at().is_some_and(|at| now - at > timeout)
            })
            .cloned()
            .collect();
        let mut events = Vec::new();
        for id in expired {
            let task = self.update(&id, |task| {
                task.status = TaskStatus::Available;
                task.claimed_by = None;
                task.claimed_at = None;
            });
            events.push(Event::TaskUpdated(task));
        }
        if !events.is_empty() {
            self.last_activity = Some(now);
        }
        events
    }

    /// When the oldest claim will expire, so the caller knows when to look again.
    pub fn next_claim_expiry(&self) -> Option<Now> {
        let timeout = self.claim_timeout();
        self.held
            .iter()
            .filter_map(|id| self.nodes[id].claimed_at())
            .min()
            .and_then(|at| at.checked_add_signed(timeout))
    }

    /// The claims of outside agents that the run going waits for: those it has when
    /// none of its own agents works and no task is ready, so that only they (or
    /// their expiry) can move it on.
    pub fn outside_claims_waited_for(&self) -> Vec<OutsideClaim> {
        let Some(run) = &self.run else {
            return Vec::new();
        };
        if !run.seats().is_empty() || self.ready.iter().next().is_some() {
            return Vec::new();
        }
        let timeout = self.claim_timeout();
        self.held
            .iter()
            .map(|id| &self.nodes[id])
            .filter(|node| !node.supervised)
            .map(|node| OutsideClaim {
                task_id: node.id.clone(),
                agent_id: node
                    .rest()
                    .and_then(|rest| rest.claimed_by.clone())
                    .unwrap_or_default(),
                returns_at: node
                    .claimed_at()
                    .and_then(|at| at.checked_add_signed(timeout)),
            })
            .collect()
    }

    /// How old a claim may grow: `task_timeout`, or for ever when that is too long to
    /// count in time (a state from before settings were bounded may hold one).
    fn claim_timeout(&self) -> chrono::TimeDelta {
        i64::try_from(self.config.task_timeout)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .unwrap_or(chrono::TimeDelta::MAX)
    }

    pub(super) fn check_held(&self, id: &TaskId, action: &str) -> Result<(), BatonError> {
        let status = self.task(id)?.status;
        match status {
            TaskStatus::Claimed | TaskStatus::InProgress => Ok(()),
            // A claim that expired, or was released, counted an attempt.
            TaskStatus::Available if self.nodes[id].attempts > 0 => {
                Err(BatonError::orchestration(format!(
                    "task {id} is not claimed now: its claim ended (older than task_timeout, or released) and it went back to the queue, so it cannot {action}; claim it again (`baton claim --agent ID`)"
                )))
            }
            TaskStatus::Available => Err(BatonError::orchestration(format!(
                "task {id} was never claimed, so it cannot {action}; a task is claimed before it is worked on, and a claim takes the most urgent ready task (`baton claim --agent ID`)"
            ))),
            _ => Err(self.already_finished(id)),
        }
    }

    pub(super) fn check_unfinished(&self, id: &TaskId) -> Result<(), BatonError> {
        let status = self.task(id)?.status;
        if status.is_finished() {
            return Err(self.already_finished(id));
        }
        Ok(())
    }

    /// A finished task cannot change: says so, and suggests only what would work.
    fn already_finished(&self, id: &TaskId) -> BatonError {
        let status = self.nodes[id].status;
        let message = match self.reopening(id) {
            Some(retry) => format!("task {id} is already {status}; {retry}"),
            None => format!("task {id} is already {status}, and a finished task stays as it is"),
        };
        BatonError::orchestration(message)
    }

    /// How a failed or cancelled task is reopened (a task that failed because of a
    /// dependency reopens with it); `None` for a task that is not.
    pub(super) fn reopening(&self, id: &TaskId) -> Option<String> {
        if !matches!(
            self.nodes[id].status,
            TaskStatus::Failed | TaskStatus::Cancelled
        ) {
            return None;
        }
        let root = self.failure_root(id);
        Some(if root == id {
            format!("`baton retry {id}` reopens it")
        } else {
            format!("`baton retry {root}` reopens it with {root}")
        })
    }

    /// The task whose retry would reopen `id`: where the chain of dependencies it
    /// failed for, one after the other, begins.
    pub(super) fn failure_root<'a>(&'a self, mut id: &'a TaskId) -> &'a TaskId {
        while let Some(dependency) = self.nodes[id].failed_dependency() {
            if !matches!(
                self.nodes[dependency].status,
                TaskStatus::Failed | TaskStatus::Cancelled
            ) {
                break;
            }
            id = dependency;
        }
        id
    }

    /// A dependency that is failed or cancelled, if any: the task could never start.
    pub(super) fn unfinishable_dependency(&self, id: &TaskId) -> Option<&TaskId> {
        self.nodes[id].dependencies.iter().find(|dependency| {
            matches!(
                self.nodes[*dependency].status,
                TaskStatus::Failed | TaskStatus::Cancelled
            )
        })
    }

    pub(super) fn finish_unsuccessfully(
        &mut self,
        id: &TaskId,
        status: TaskStatus,
        error: String,
        failed_dependency: Option<TaskId>,
        now: Now,
    ) -> Task {
        self.update(id, |task| {
            let result = task.result.get_or_insert_default();
            result.error = Some(error);
            task.status = status;
            task.completed_at = Some(now);
            task.failed_dependency = failed_dependency;
            task.supervised = false;
            task.stage = None;
        })
    }

    pub(super) fn fail_for_dependency(
        &mut self,
        id: &TaskId,
        dependency: &TaskId,
        now: Now,
        events: &mut Events,
    ) {
        let how = how_it_ended(self.nodes[dependency].status);
        let error = format!("dependency {dependency} {how}");
        let task = self.finish_unsuccessfully(
            id,
            TaskStatus::Failed,
            error,
            Some(dependency.clone()),
            now,
        );
        events.push(Event::TaskFailed(task));
        self.cascade_failure(id, now, events);
    }

    /// Fails every unfinished task that depends, directly or not, on `root`, so that
    /// a run always ends.
    pub(super) fn cascade_failure(&mut self, root: &TaskId, now: Now, events: &mut Events) {
        let mut pending: Vec<(TaskId, TaskId)> = self.nodes[root]
            .dependents
            .iter()
            .map(|dependent| (dependent.clone(), root.clone()))
            .collect();
        while let Some((id, because)) = pending.pop() {
            if self.nodes[&id].status.is_finished() {
                continue;
            }
            let how = how_it_ended(self.nodes[&because].status);
            let error = format!("dependency {because} {how}");
            let task =
                self.finish_unsuccessfully(&id, TaskStatus::Failed, error, Some(because), now);
            events.push(Event::TaskFailed(task));
            pending.extend(
                self.nodes[&id]
                    .dependents
                    .iter()
                    .map(|dependent| (dependent.clone(), id.clone())),
            );
        }
    }
}

/// How a task that will never be done ended, as its dependents' errors say it.
pub(super) fn how_it_ended(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Cancelled => "was cancelled",
        _ => "failed",
    }
}

/// The agent's result, keeping what was recorded on the task while it ran.
fn merge_results(earlier: TaskResult, mut result: TaskResult) -> TaskResult {
    for discovery in earlier.discoveries.into_iter().rev() {
        if !result.discoveries.contains(&discovery) {
            result.discoveries.insert(0, discovery);
        }
    }
    for subtask in earlier.subtasks_created.into_iter().rev() {
        if !result.subtasks_created.contains(&subtask) {
            result.subtasks_created.insert(0, subtask);
        }
    }
    result
}
