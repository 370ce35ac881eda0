//! Prompt templates: plain text with `{placeholder}`s, so a user can replace them
//! (`leader_prompt` and `worker_prompt` in the configuration). The defaults are ours.

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

pub use baton_protocol::prompts::{LEADER, SUMMARY, WORKER};

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
