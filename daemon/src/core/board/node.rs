//! A task as the board keeps it. What every task has is held inline; what a task
//! has only once an agent took it, or only in few plans (context, claim, result,
//! spending), is boxed and absent until set. A plan of 100,000 waiting tasks then
//! holds nodes of about 130 bytes rather than 400 (docs/benchmarks.md).

use std::cmp::Reverse;

use baton_protocol::{Task, TaskContext, TaskId, TaskResult, TaskStage, TaskStatus, Usage};

use super::Now;
use crate::core::ready_queue::ReadyKey;

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) id: TaskId,
    pub(super) description: Box<str>,
    pub(super) status: TaskStatus,
    pub(super) priority: u8,
    pub(super) supervised: bool,
    pub(super) stage: Option<TaskStage>,
    pub(super) attempts: u32,
    pub(super) dependencies: Box<[TaskId]>,
    pub(super) created_at: Now,
    /// Creation order, for age in the ready queue and for listing.
    pub(super) seq: u64,
    /// The length of the longest chain of tasks that depend on this one, itself
    /// included; 0 until first computed.
    pub(super) chain: u32,
    pub(super) waiting: u32,
    pub(super) dependents: Vec<TaskId>,
    rest: Option<Box<Rest>>,
}

/// The fields of a task that most tasks of a plan leave empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Rest {
    pub(super) claimed_by: Option<String>,
    pub(super) files: Vec<String>,
    pub(super) hints: String,
    pub(super) parent_task: Option<TaskId>,
    pub(super) result: Option<Box<TaskResult>>,
    pub(super) claimed_at: Option<Now>,
    pub(super) completed_at: Option<Now>,
    pub(super) failed_dependency: Option<TaskId>,
    pub(super) usage: Usage,
    pub(super) session_id: Option<String>,
    pub(super) permission_denials: Vec<String>,
    pub(super) model: Option<String>,
}

impl Node {
    pub(super) fn new(task: Task, seq: u64) -> Node {
        let (inline, rest) = split(task);
        Node {
            seq,
            chain: 0,
            waiting: 0,
            dependents: Vec::new(),
            rest,
            ..inline
        }
    }

    /// The whole task, as clients see it.
    pub(super) fn task(&self) -> Task {
        let rest = self.rest.as_deref().cloned().unwrap_or_default();
        join(
            self.id.clone(),
            self.description.to_string(),
            self.inline_fields(),
            self.dependencies.to_vec(),
            rest,
        )
    }

    pub(super) fn into_task(self) -> Task {
        let fields = self.inline_fields();
        let rest = self.rest.map(|rest| *rest).unwrap_or_default();
        join(
            self.id,
            self.description.into(),
            fields,
            self.dependencies.into_vec(),
            rest,
        )
    }

    /// Takes `task`'s fields (its id stays); the links and chain stay as they are.
    pub(super) fn set(&mut self, task: Task) {
        let (inline, rest) = split(task);
        self.description = inline.description;
        self.status = inline.status;
        self.priority = inline.priority;
        self.supervised = inline.supervised;
        self.stage = inline.stage;
        self.attempts = inline.attempts;
        self.dependencies = inline.dependencies;
        self.created_at = inline.created_at;
        self.rest = rest;
    }

    fn inline_fields(&self) -> InlineFields {
        InlineFields {
            status: self.status,
            priority: self.priority,
            supervised: self.supervised,
            stage: self.stage,
            attempts: self.attempts,
            created_at: self.created_at,
        }
    }

    pub(super) fn rest(&self) -> Option<&Rest> {
        self.rest.as_deref()
    }

    pub(super) fn rest_mut(&mut self) -> &mut Rest {
        self.rest.get_or_insert_default()
    }

    pub(super) fn result_mut(&mut self) -> &mut TaskResult {
        self.rest_mut().result.get_or_insert_default()
    }

    pub(super) fn parent_task(&self) -> Option<&TaskId> {
        self.rest()?.parent_task.as_ref()
    }

    pub(super) fn failed_dependency(&self) -> Option<&TaskId> {
        self.rest()?.failed_dependency.as_ref()
    }

    pub(super) fn claimed_at(&self) -> Option<Now> {
        self.rest()?.claimed_at
    }

    pub(super) fn cost_usd(&self) -> f64 {
        self.rest().map_or(0.0, |rest| rest.usage.cost_usd)
    }

    pub(super) fn ready_key(&self) -> ReadyKey {
        ReadyKey {
            priority: self.priority,
            chain: Reverse(self.chain),
            seq: self.seq,
            id: self.id.clone(),
        }
    }

    pub(super) fn is_ready(&self) -> bool {
        self.status == TaskStatus::Available && self.waiting == 0
    }

    /// Records a dependent. The list grows by half, from one, rather than doubling
    /// from four: most tasks have one or two dependents, and a hundred thousand
    /// lists of four would mostly hold nothing.
    pub(super) fn add_dependent(&mut self, id: TaskId) {
        if self.dependents.len() == self.dependents.capacity() {
            self.dependents.reserve_exact(1 + self.dependents.len() / 2);
        }
        self.dependents.push(id);
    }
}

/// The inline fields that are copied as they are.
struct InlineFields {
    status: TaskStatus,
    priority: u8,
    supervised: bool,
    stage: Option<TaskStage>,
    attempts: u32,
    created_at: Now,
}

/// A task's inline fields as a node without links, and its other fields, boxed
/// unless all are empty.
fn split(task: Task) -> (Node, Option<Box<Rest>>) {
    let Task {
        id,
        description,
        status,
        priority,
        claimed_by,
        dependencies,
        context:
            TaskContext {
                files,
                hints,
                parent_task,
            },
        result,
        created_at,
        claimed_at,
        completed_at,
        attempts,
        failed_dependency,
        usage,
        session_id,
        permission_denials,
        supervised,
        model,
        stage,
    } = task;
    let rest = Rest {
        claimed_by,
        files,
        hints,
        parent_task,
        result,
        claimed_at,
        completed_at,
        failed_dependency,
        usage,
        session_id,
        permission_denials,
        model,
    };
    let rest = (rest != Rest::default()).then(|| Box::new(rest));
    let node = Node {
        id,
        description: description.into_boxed_str(),
        status,
        priority,
        supervised,
        stage,
        attempts,
        dependencies: dependencies.into_boxed_slice(),
        created_at,
        seq: 0,
        chain: 0,
        waiting: 0,
        dependents: Vec::new(),
        rest: None,
    };
    (node, rest)
}

fn join(
    id: TaskId,
    description: String,
    fields: InlineFields,
    dependencies: Vec<TaskId>,
    rest: Rest,
) -> Task {
    Task {
        id,
        description,
        status: fields.status,
        priority: fields.priority,
        claimed_by: rest.claimed_by,
        dependencies,
        context: TaskContext {
            files: rest.files,
            hints: rest.hints,
            parent_task: rest.parent_task,
        },
        result: rest.result,
        created_at: fields.created_at,
        claimed_at: rest.claimed_at,
        completed_at: rest.completed_at,
        attempts: fields.attempts,
        failed_dependency: rest.failed_dependency,
        usage: rest.usage,
        session_id: rest.session_id,
        permission_denials: rest.permission_denials,
        supervised: fields.supervised,
        model: rest.model,
        stage: fields.stage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn task() -> Task {
        Task {
            id: TaskId::numbered(7),
            description: "parse the header".into(),
            status: TaskStatus::Available,
            priority: 3,
            claimed_by: None,
            dependencies: vec![TaskId::numbered(1)],
            context: TaskContext::default(),
            result: None,
            created_at: chrono::Utc.timestamp_opt(1_000, 0).unwrap(),
            claimed_at: None,
            completed_at: None,
            attempts: 0,
            failed_dependency: None,
            usage: Usage::default(),
            session_id: None,
            permission_denials: Vec::new(),
            supervised: false,
            model: None,
            stage: None,
        }
    }

    #[test]
    fn a_node_is_a_third_of_a_task() {
        let (node, task) = (size_of::<Node>(), size_of::<Task>());
        assert!(
            node * 5 <= task * 2,
            "a node is {node} bytes, a task {task}"
        );
    }

    #[test]
    fn a_waiting_task_has_nothing_boxed_and_comes_back_whole() {
        let node = Node::new(task(), 0);
        assert!(node.rest().is_none());
        assert_eq!(node.task(), task());
        assert_eq!(node.into_task(), task());
    }

    #[test]
    fn every_field_of_a_task_comes_back_whole() {
        let mut full = task();
        full.status = TaskStatus::Done;
        full.claimed_by = Some("worker-1".into());
        full.context = TaskContext {
            files: vec!["src/a.rs".into()],
            hints: "see the spec".into(),
            parent_task: Some(TaskId::numbered(2)),
        };
        full.result = Some(Box::new(TaskResult {
            output: "did it".into(),
            ..TaskResult::default()
        }));
        full.claimed_at = Some(chrono::Utc.timestamp_opt(2_000, 0).unwrap());
        full.completed_at = Some(chrono::Utc.timestamp_opt(3_000, 0).unwrap());
        full.attempts = 2;
        full.failed_dependency = Some(TaskId::numbered(3));
        full.usage.cost_usd = 0.5;
        full.session_id = Some("session".into());
        full.permission_denials = vec!["Bash".into()];
        full.supervised = true;
        full.model = Some("opus".into());
        full.stage = Some(TaskStage::Verifying);
        let mut node = Node::new(task(), 4);
        node.set(full.clone());
        assert_eq!(node.task(), full);
        assert_eq!(node.seq, 4);
        node.set(task());
        assert!(node.rest().is_none(), "emptied fields are not kept boxed");
    }
}
