//! Prompt templates: plain text with `{placeholder}`s, so a user can replace them
//! (`leader_prompt` and `worker_prompt` in the configuration). The defaults are ours,
//! and so is what fills them in from the board.

use baton_protocol::Task;

use crate::core::{clip, Board};

/// The values a template can name.
#[derive(Debug, Clone, Default)]
pub struct PromptValues {
    pub goal: String,
    pub master_plan: String,
    pub task_id: String,
    pub description: String,
    pub hints: String,
    pub context_files: String,
    /// Ids, descriptions and outputs of the finished dependencies.
    pub dependencies: String,
    pub discoveries: String,
    pub agent_id: String,
    /// Every task with its status (and, when finished, its outcome).
    pub tasks: String,
    /// The task's diff against the integration branch, for its reviewer.
    pub diff: String,
}

impl PromptValues {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "goal" => &self.goal,
            "master_plan" => &self.master_plan,
            "task_id" => &self.task_id,
            "description" => &self.description,
            "hints" => &self.hints,
            "context_files" => &self.context_files,
            "dependencies" => &self.dependencies,
            "discoveries" => &self.discoveries,
            "agent_id" => &self.agent_id,
            "tasks" => &self.tasks,
            "diff" => &self.diff,
            _ => return None,
        })
    }
}

/// Fills in every known `{placeholder}`; anything else in braces stays as written.
pub fn render(template: &str, values: &PromptValues) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .and_then(|close| Some((values.get(&after[..close])?, close)));
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub use baton_protocol::prompts::{LEADER, REVIEWER, SUMMARY, WORKER};

/// A worker's values: its task, what its dependencies produced, and every discovery.
pub fn worker_values(board: &Board, task: &Task, agent_id: &str) -> PromptValues {
    let dependencies = task
        .dependencies
        .iter()
        .filter_map(|id| board.task(id).ok())
        .map(|dependency| {
            let output = dependency
                .result
                .as_ref()
                .map(|result| result.output.as_str())
                .unwrap_or("");
            format!(
                "- {} {}\n  Result: {}",
                dependency.id,
                dependency.description,
                output.trim()
            )
        })
        .collect::<Vec<_>>();
    let discoveries = board
        .discoveries()
        .iter()
        .map(|found| {
            format!(
                "- {} (by {}): {}",
                found.tags.join(", "),
                found.agent_id,
                found.content
            )
        })
        .collect::<Vec<_>>();
    let state = board.state();
    PromptValues {
        goal: state.goal,
        master_plan: or_none(state.master_plan),
        task_id: task.id.to_string(),
        description: task.description.clone(),
        hints: or_none(task.context.hints.clone()),
        context_files: or_none(task.context.files.join(", ")),
        dependencies: or_none(dependencies.join("\n")),
        discoveries: or_none(discoveries.join("\n")),
        agent_id: agent_id.into(),
        tasks: String::new(),
        diff: String::new(),
    }
}

/// The leader's values: the goal, the plan so far and every task there is.
pub fn leader_values(board: &Board, agent_id: &str) -> PromptValues {
    PromptValues {
        goal: board.goal().to_owned(),
        master_plan: board.state().master_plan,
        tasks: task_lines(&board.tasks(None)),
        agent_id: agent_id.into(),
        ..PromptValues::default()
    }
}

/// The summary's values: the goal and the tasks the run finished.
pub fn summary_values(goal: &str, tasks: &[Task]) -> PromptValues {
    PromptValues {
        goal: goal.to_owned(),
        tasks: task_lines(tasks),
        ..PromptValues::default()
    }
}

fn or_none(text: String) -> String {
    if text.trim().is_empty() {
        "(none)".into()
    } else {
        text
    }
}

/// The summary of a run that only planned: the tasks on the board that wait.
pub fn plan_summary(tasks: &[Task]) -> String {
    let planned: Vec<Task> = tasks
        .iter()
        .filter(|task| !task.status.is_finished())
        .cloned()
        .collect();
    format!(
        "Planned {}; no worker started. `baton tasks` lists them, `baton edit` \
         changes one, `baton run --predefined` runs them.\n{}",
        crate::core::run::task_count(planned.len()),
        task_lines(&planned)
    )
}

/// Every task in a line, with its status and (when finished) its outcome.
pub fn task_lines(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "(none)".into();
    }
    tasks
        .iter()
        .map(|task| {
            let outcome = task.result.as_ref().map(|result| match &result.error {
                Some(error) => format!(" — {}", clip(error, 200)),
                None => format!(" — {}", clip(&result.output, 200)),
            });
            format!(
                "- {} [{}] p{} {}{}",
                task.id,
                task.status,
                task.priority,
                clip(&task.description, 200),
                outcome.unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_placeholders_are_filled_and_other_braces_stay() {
        let values = PromptValues {
            goal: "ship".into(),
            task_id: "task-001".into(),
            ..PromptValues::default()
        };
        assert_eq!(
            render("{task_id}: {goal} {unknown} {json: 1} {", &values),
            "task-001: ship {unknown} {json: 1} {"
        );
    }

    #[test]
    fn the_default_worker_prompt_names_every_thing_a_worker_needs() {
        for placeholder in [
            "{agent_id}",
            "{goal}",
            "{master_plan}",
            "{task_id}",
            "{description}",
            "{hints}",
            "{context_files}",
            "{dependencies}",
            "{discoveries}",
        ] {
            assert!(WORKER.contains(placeholder), "{placeholder}");
        }
    }
}
