//! Changing the plan before the work: editing what a task asks for and deleting a
//! task that has not started, keeping the graph and its indexes true.

use std::collections::{HashMap, HashSet, VecDeque};

use baton_protocol::methods::EditTaskParams;
use baton_protocol::{BatonError, Event, Task, TaskId, TaskStatus, Usage};

use super::lifecycle::how_it_ended;
use super::{Board, Events, Now};
use crate::core::validate;

impl Board {
    /// Changes what a task that has not finished asks for. Dependencies are checked as
    /// `add_tasks` checks them; a task an agent already holds may only gain
    /// dependencies that are done, since its work has started. A new model applies
    /// from the task's next attempt.
    pub fn edit(&mut self, edit: EditTaskParams, now: Now) -> Result<(Task, Events), BatonError> {
        let id = &edit.task_id;
        let task = self.task(id)?;
        if task.status.is_finished() {
            let mut message = format!(
                "task {id} is {}, so it can no longer be edited",
                task.status
            );
            if let Some(retry) = self.reopening(id) {
                message.push_str(&format!("; {retry} first"));
            }
            return Err(BatonError::orchestration(message));
        }
        if edit.is_empty() {
            return Err(BatonError::invalid(format!(
                "nothing to change in {id}; give a description, priority, dependencies, files, hints or a model"
            )));
        }
        validate::edit(&edit)?;
        let dependencies = match edit.dependencies {
            Some(mut dependencies) => {
                let mut seen = HashSet::new();
                dependencies.retain(|dependency| seen.insert(dependency.clone()));
                self.check_new_dependencies(&task, &dependencies)?;
                Some(dependencies)
            }
            None => None,
        };
        self.unindex(id);
        self.changes.tasks.insert(id.clone());
        let node = self.nodes.get_mut(id).expect("checked above");
        if let Some(description) = edit.description {
            node.description = description.into();
        }
        if let Some(priority) = edit.priority {
            node.priority = priority;
        }
        if let Some(files) = edit.context_files {
            node.rest_mut().files = files;
        }
        if let Some(hints) = edit.hints {
            node.rest_mut().hints = hints;
        }
        if let Some(model) = edit.model {
            node.rest_mut().model = model;
        }
        if let Some(dependencies) = dependencies {
            let before = std::mem::replace(&mut node.dependencies, dependencies.into());
            for dependency in &before {
                let dependents = &mut self.nodes.get_mut(dependency).expect("known").dependents;
                dependents.retain(|dependent| dependent != id);
            }
            self.link(id);
            let touched = before
                .into_vec()
                .into_iter()
                .chain(self.nodes[id].dependencies.iter().cloned())
                .collect::<Vec<_>>();
            self.index(id);
            self.stale_chains.extend(touched);
        } else {
            self.index(id);
        }
        let task = self.nodes[id].task();
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Checks dependencies that an edit would give `task`: they exist, they could
    /// still be done, they make no cycle, and a held task gets only finished work.
    fn check_new_dependencies(
        &self,
        task: &Task,
        dependencies: &[TaskId],
    ) -> Result<(), BatonError> {
        let id = &task.id;
        for dependency in dependencies {
            let Some(node) = self.nodes.get(dependency) else {
                return Err(validate::unknown_dependency(id, dependency));
            };
            let status = node.status;
            if matches!(status, TaskStatus::Failed | TaskStatus::Cancelled) {
                return Err(BatonError::orchestration(format!(
                    "dependency {dependency} of {id} {}, so {id} could never start; `baton retry {dependency}` first, or leave it out",
                    how_it_ended(status)
                )));
            }
            if task.status.is_held() && status != TaskStatus::Done {
                return Err(BatonError::orchestration(format!(
                    "task {id} is {} by {}, so it cannot wait for {dependency}, which is {status}; `baton cancel {id}` and add it again to make it wait",
                    task.status,
                    task.claimed_by.as_deref().unwrap_or("an agent")
                )));
            }
        }
        if let Some(cycle) = self.cycle_through(id, dependencies) {
            return Err(validate::cycle_error(cycle.iter()));
        }
        Ok(())
    }

    /// The cycle that making `id` depend on `dependencies` would close, if any: `id`,
    /// the tasks that wait on it one after the other, and `id` again.
    fn cycle_through(&self, id: &TaskId, dependencies: &[TaskId]) -> Option<Vec<TaskId>> {
        let targets: HashSet<&TaskId> = dependencies.iter().collect();
        // Breadth-first over the tasks waiting on `id`, remembering who led where.
        let mut came_from: HashMap<&TaskId, &TaskId> = HashMap::new();
        let mut pending = VecDeque::from([id]);
        while let Some(current) = pending.pop_front() {
            if targets.contains(current) {
                // `id` would depend on `current`, which waits on … which waits on `id`.
                let mut cycle = vec![id.clone()];
                let mut step = current;
                loop {
                    cycle.push(step.clone());
                    if step == id {
                        return Some(cycle);
                    }
                    step = came_from[step];
                }
            }
            for dependent in &self.nodes[current].dependents {
                if dependent != id && !came_from.contains_key(dependent) {
                    came_from.insert(dependent, current);
                    pending.push_back(dependent);
                }
            }
        }
        None
    }

    /// Removes a task that no agent ever claimed and that no other task depends on.
    /// Its id is not given out again while the board holds a higher one.
    pub fn delete(&mut self, id: &TaskId, now: Now) -> Result<(Task, Events), BatonError> {
        let task = self.task(id)?;
        // An agent that worked on it (even if the task went back to the queue) spent
        // money and left a log: that stays on the record.
        let worked_on = task.attempts > 0 || task.usage != Usage::default();
        if task.status != TaskStatus::Available || worked_on {
            let how = match task.status {
                TaskStatus::Available => "has already been worked on".to_owned(),
                status => format!("is {status}"),
            };
            let instead = if task.status.is_finished() {
                "it stays on the record".to_owned()
            } else {
                format!("`baton cancel {id}` ends it and keeps its record")
            };
            return Err(BatonError::orchestration(format!(
                "task {id} {how}; only a task that has not started can be deleted, and {instead}"
            )));
        }
        let dependents = &self.nodes[id].dependents;
        if let Some(first) = dependents.first() {
            let more = match dependents.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(BatonError::orchestration(format!(
                "task {first}{more} depends on {id}; change its dependencies first (`baton edit {first} -d ID…` or `--no-deps`)"
            )));
        }
        if let Some(subtask) = self
            .order
            .iter()
            .find(|other| self.nodes[*other].parent_task() == Some(id))
        {
            return Err(BatonError::orchestration(format!(
                "task {subtask} is a subtask of {id}; delete it first"
            )));
        }
        if self
            .discoveries
            .iter()
            .any(|found| found.related_task.as_ref() == Some(id))
        {
            return Err(BatonError::orchestration(format!(
                "a discovery concerns {id}, so it stays on the record; `baton cancel {id}` ends it"
            )));
        }
        self.unindex(id);
        // The tasks after it are renumbered, and the store keys tasks by their number.
        self.changes.everything = true;
        let node = self.nodes.remove(id).expect("checked above");
        *self.counts.get_mut(node.status) -= 1;
        for dependency in &node.dependencies {
            let dependents = &mut self.nodes.get_mut(dependency).expect("known").dependents;
            dependents.retain(|dependent| dependent != id);
        }
        // Creation order has no gap: the tasks after it move up one place.
        let place = node.seq as usize;
        self.order.remove(place);
        for position in place..self.order.len() {
            let later = self.order[position].clone();
            self.unindex(&later);
            self.nodes.get_mut(&later).expect("known").seq = position as u64;
            self.index(&later);
        }
        self.stale_chains.remove(id);
        self.stale_chains.extend(node.dependencies.iter().cloned());
        let task = node.into_task();
        let mut events = vec![Event::TaskDeleted(task.clone())];
        if let Some(parent) = &task.context.parent_task {
            let parent = self.nodes.get_mut(parent).expect("validated parent");
            if let Some(result) = parent.rest_mut().result.as_mut() {
                result.subtasks_created.retain(|subtask| subtask != id);
            }
            events.push(Event::TaskUpdated(parent.task()));
        }
        self.last_activity = Some(now);
        Ok((task, events))
    }
}
