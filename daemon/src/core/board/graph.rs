//! The links between tasks: adding tasks to the graph, dependencies and dependents,
//! the chain each task heads, and the indexes (ready queue, held set, counts) that
//! `update` keeps true whenever a task changes.

use std::collections::BinaryHeap;

use baton_protocol::methods::NewTask;
use baton_protocol::{BatonError, Event, Task, TaskContext, TaskId, TaskStatus};

use super::node::Node;
use super::{Board, Events, Now};
use crate::core::validate;

impl Board {
    /// Adds tasks, all or none. A dependency or a parent may name a task of the same
    /// batch. It is long because ids, links, chains, indexes and events follow each
    /// other in this order over the whole batch.
    pub fn add_tasks(
        &mut self,
        batch: Vec<NewTask>,
        now: Now,
    ) -> Result<(Vec<Task>, Events), BatonError> {
        if self.next_number.checked_add(batch.len() as u64).is_none() {
            return Err(BatonError::orchestration(
                "no task numbers are left after the largest loaded id; load a state whose ids are smaller",
            ));
        }
        let ids: Vec<TaskId> = (self.next_number..)
            .take(batch.len())
            .map(TaskId::numbered)
            .collect();
        let order = validate::new_tasks(&batch, &ids, |id| self.nodes.contains_key(id))?;
        let mut events = Vec::with_capacity(batch.len());
        for (new, id) in batch.into_iter().zip(&ids) {
            let mut dependencies = new.dependencies;
            let mut seen = std::collections::HashSet::new();
            dependencies.retain(|dependency| seen.insert(dependency.clone()));
            self.insert_node(Task {
                id: id.clone(),
                description: new.description,
                status: TaskStatus::Available,
                priority: new.priority,
                claimed_by: None,
                dependencies,
                context: TaskContext {
                    files: new.context_files,
                    hints: new.hints,
                    parent_task: new.parent_task,
                },
                result: None,
                created_at: now,
                claimed_at: None,
                completed_at: None,
                attempts: 0,
                failed_dependency: None,
                usage: Default::default(),
                session_id: None,
                permission_denials: Vec::new(),
                supervised: false,
                model: new.model,
                stage: None,
            });
        }
        for id in &ids {
            self.link(id);
        }
        // New tasks have dependents only in their batch; the tasks they depend on may
        // now head longer chains.
        let ordered: Vec<TaskId> = order.iter().map(|&i| ids[i].clone()).collect();
        self.compute_chains(&ordered);
        for id in &ids {
            self.index(id);
        }
        let new: std::collections::HashSet<&TaskId> = ids.iter().collect();
        let raised: Vec<TaskId> = ids
            .iter()
            .flat_map(|id| self.nodes[id].dependencies.iter())
            .filter(|dependency| !new.contains(dependency))
            .cloned()
            .collect();
        self.stale_chains.extend(raised);
        // Parents first, so that a parent of the batch is announced with its parts;
        // a parent already there is announced again after them.
        let mut parents_updated: Vec<TaskId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            if let Some(parent) = self.nodes[id].parent_task().cloned() {
                let node = self.nodes.get_mut(&parent).expect("validated parent");
                node.result_mut().subtasks_created.push(id.clone());
                if !new.contains(&parent) && seen.insert(parent.clone()) {
                    parents_updated.push(parent.clone());
                }
                self.changes.tasks.insert(parent);
            }
        }
        for id in ids.iter().chain(&parents_updated) {
            let task = self.nodes[id].task();
            events.push(match new.contains(id) {
                true => Event::TaskCreated(task),
                false => Event::TaskUpdated(task),
            });
        }
        // A task that depends on a failed one can never start: it fails now.
        for &i in &order {
            let id = &ids[i];
            if self.nodes[id].status != TaskStatus::Available {
                continue;
            }
            let failed = self.nodes[id].dependencies.iter().find(|dependency| {
                matches!(
                    self.nodes[*dependency].status,
                    TaskStatus::Failed | TaskStatus::Cancelled
                )
            });
            if let Some(failed) = failed.cloned() {
                self.fail_for_dependency(id, &failed, now, &mut events);
            }
        }
        self.last_activity = Some(now);
        let tasks = ids.iter().map(|id| self.nodes[id].task()).collect();
        Ok((tasks, events))
    }

    /// Changes one task, keeping every index true. Answers the task as it is now.
    pub(super) fn update(&mut self, id: &TaskId, change: impl FnOnce(&mut Task)) -> Task {
        self.unindex(id);
        self.changes.tasks.insert(id.clone());
        let node = self.nodes.get_mut(id).expect("update of a known task");
        let before = node.status;
        let mut task = node.task();
        change(&mut task);
        let after = task.status;
        node.set(task.clone());
        *self.counts.get_mut(before) -= 1;
        *self.counts.get_mut(after) += 1;
        if before.is_finished() && !after.is_finished() {
            if let Some(run) = self.run.as_mut() {
                run.reopened(id);
            }
        }
        if gave_up(before) != gave_up(after) {
            // It leaves, or joins again, the chains of the tasks it depends on.
            let dependencies = self.nodes[id].dependencies.iter().cloned();
            self.stale_chains.extend(dependencies);
        }
        if (before == TaskStatus::Done) != (after == TaskStatus::Done) {
            let dependents = self.nodes[id].dependents.clone();
            for dependent in dependents {
                self.unindex(&dependent);
                let node = self.nodes.get_mut(&dependent).expect("known dependent");
                if after == TaskStatus::Done {
                    node.waiting -= 1;
                } else {
                    node.waiting += 1;
                }
                self.index(&dependent);
            }
        }
        self.index(id);
        task
    }

    pub(super) fn insert_node(&mut self, task: Task) {
        if let Some(number) = task.id.number() {
            self.next_number = self.next_number.max(number.saturating_add(1));
        }
        *self.counts.get_mut(task.status) += 1;
        self.cost_usd += task.usage.cost_usd;
        self.changes.tasks.insert(task.id.clone());
        self.order.push(task.id.clone());
        let node = Node::new(task, self.order.len() as u64 - 1);
        self.nodes.insert(node.id.clone(), Box::new(node));
    }

    /// Records a new task as a dependent of its dependencies and counts those not done.
    pub(super) fn link(&mut self, id: &TaskId) {
        let dependencies = self.nodes[id].dependencies.clone();
        let mut waiting = 0;
        for dependency in &dependencies {
            let node = self
                .nodes
                .get_mut(dependency)
                .expect("validated dependency");
            node.add_dependent(id.clone());
            if node.status != TaskStatus::Done {
                waiting += 1;
            }
        }
        self.nodes.get_mut(id).expect("linked task").waiting = waiting;
    }

    pub(super) fn index(&mut self, id: &TaskId) {
        let node = &self.nodes[id];
        if node.is_ready() {
            self.ready.insert(node.ready_key());
        }
        if node.status.is_held() {
            self.held.insert(id.clone());
        }
    }

    pub(super) fn unindex(&mut self, id: &TaskId) {
        let node = &self.nodes[id];
        if node.is_ready() {
            self.ready.remove(&node.ready_key());
        }
        self.held.remove(id);
    }

    /// Sets the chains of `ids`, given dependencies first, whose dependents' chains
    /// are final (or among `ids`): one pass, dependents before dependencies. The
    /// tasks must not be indexed yet.
    pub(super) fn compute_chains(&mut self, ids: &[TaskId]) {
        for id in ids.iter().rev() {
            let chain = self.chain_of(id);
            self.nodes.get_mut(id).expect("known task").chain = chain;
        }
    }

    /// The chain `id` heads from its dependents' chains: itself and the longest chain
    /// of work waiting on it. A failed or cancelled dependent waits for nothing, so it
    /// is no link of it.
    fn chain_of(&self, id: &TaskId) -> u32 {
        1 + self.nodes[id]
            .dependents
            .iter()
            .map(|dependent| &self.nodes[dependent])
            .filter(|dependent| !gave_up(dependent.status))
            .map(|dependent| dependent.chain)
            .max()
            .unwrap_or(0)
    }

    /// Brings every chain up to date before the ready queue's order is read: the
    /// chains of the stale tasks and, where one changed, of the tasks they depend on.
    ///
    /// Chains are settled lazily because they really change far up the graph: a task
    /// added under a long chain lengthens the chain of every task before it, so
    /// keeping them exact on every add made adding cost in proportion to the plan.
    /// Settled once before a claim, the changes of many adds are made together, each
    /// task at most once when tasks depend on older ones: newest first, dependents
    /// come before their dependencies. Any other order still ends exact, a task
    /// being queued again whenever a dependent changed after it was settled.
    pub(super) fn settle_chains(&mut self) {
        if self.stale_chains.is_empty() {
            return;
        }
        let mut queued = std::mem::take(&mut self.stale_chains);
        let mut pending: BinaryHeap<(u64, TaskId)> = queued
            .iter()
            .map(|id| (self.nodes[id].seq, id.clone()))
            .collect();
        while let Some((_, id)) = pending.pop() {
            queued.remove(&id);
            let chain = self.chain_of(&id);
            if chain == self.nodes[&id].chain {
                continue;
            }
            self.unindex(&id);
            self.nodes.get_mut(&id).expect("known task").chain = chain;
            self.index(&id);
            for dependency in &self.nodes[&id].dependencies {
                if queued.insert(dependency.clone()) {
                    pending.push((self.nodes[dependency].seq, dependency.clone()));
                }
            }
        }
    }
}

/// Whether a task in `status` waits for nothing more: failed or cancelled.
fn gave_up(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Failed | TaskStatus::Cancelled)
}
