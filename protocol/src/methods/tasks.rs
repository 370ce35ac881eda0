//! The parameters of the board's task and discovery methods.

use serde::{Deserialize, Serialize};

use crate::model::*;

use super::config::{double_option, present};

/// A task to add: the reference's `add_task` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub description: String,
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default)]
    pub dependencies: Vec<TaskId>,
    #[serde(default)]
    pub context_files: Vec<String>,
    #[serde(default)]
    pub hints: String,
    /// Set when an agent splits its task; the parent lists it in `subtasks_created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task: Option<TaskId>,
    /// The model its agent uses; none means the workspace's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

fn default_priority() -> u8 {
    5
}

impl NewTask {
    pub fn new(description: impl Into<String>) -> Self {
        NewTask {
            description: description.into(),
            priority: default_priority(),
            dependencies: Vec::new(),
            context_files: Vec::new(),
            hints: String::new(),
            parent_task: None,
            model: None,
        }
    }
}

/// Parameters of `baton/addTasks`. A dependency may name the id that another task of
/// the same batch gets: new ids are numbered on from the highest `task-NNN` there is,
/// in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTasksParams {
    pub tasks: Vec<NewTask>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTaskParams {
    pub agent_id: String,
}

/// Names one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    pub task_id: TaskId,
}

/// Parameters of `baton/editTask`: each field given replaces the task's, the others
/// stay. `dependencies` replaces the whole list (`[]` removes them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditTaskParams {
    pub task_id: TaskId,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub priority: Option<u8>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub dependencies: Option<Vec<TaskId>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub context_files: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub hints: Option<String>,
    /// The model for the task's agent from its next attempt; `Some(None)` (JSON
    /// `null`) gives it the workspace's `model` again.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub model: Option<Option<String>>,
}

impl EditTaskParams {
    /// An edit of `task_id` that changes nothing yet.
    pub fn new(task_id: TaskId) -> Self {
        EditTaskParams {
            task_id,
            description: None,
            priority: None,
            dependencies: None,
            context_files: None,
            hints: None,
            model: None,
        }
    }

    /// Whether the edit would change nothing at all.
    pub fn is_empty(&self) -> bool {
        let EditTaskParams {
            task_id: _,
            description,
            priority,
            dependencies,
            context_files,
            hints,
            model,
        } = self;
        description.is_none()
            && priority.is_none()
            && dependencies.is_none()
            && context_files.is_none()
            && hints.is_none()
            && model.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskParams {
    pub task_id: TaskId,
    #[serde(default)]
    pub result: TaskResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailTaskParams {
    pub task_id: TaskId,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTasksParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

/// A discovery to share: the reference's Discovery without its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDiscovery {
    pub agent_id: String,
    pub content: String,
    #[serde(default)]
    pub related_task: Option<TaskId>,
    #[serde(default)]
    pub tags: Vec<String>,
}
