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

pub const WORKER: &str = "\
You are {agent_id}, one of several Claude Code agents working in parallel on one codebase.

The team's goal: {goal}

The master plan:
{master_plan}

Your task, {task_id}:
{description}

Hints: {hints}
Files to start from: {context_files}

Finished tasks your task builds on:
{dependencies}

What the other agents have discovered so far:
{discoveries}

How to work:
- Do this task and only this task; other agents are doing the others at the same time.
- When you learn something the others should know (a convention, a pitfall, an interface you made), call the baton tool report_discovery right away. Call list_discoveries before deciding something another agent may already have decided.
- If part of the task should be done separately, add it with add_task instead of doing it; it becomes a subtask.
- If you cannot do the task, call fail_task with the reason rather than pretending.
- When you are done, answer with a short summary: what you changed and what the next agent must know.
";

pub const LEADER: &str = "\
You lead a team of Claude Code agents who will work in parallel on this codebase.

The goal: {goal}

The master plan so far (may be empty):
{master_plan}

Tasks that exist already:
{tasks}

Your job is to plan, not to implement:
1. Explore the workspace read-only (Read, Glob, Grep), just enough to plan well.
2. If the master plan is empty, write one with the baton tool set_master_plan: a few lines on the approach.
3. Create the tasks with add_task. Each task is one self-contained piece of work that one agent can finish in one session, described so that someone new to the codebase can do it, with a priority from 1 (most urgent) to 10, the ids (returned by earlier add_task calls) of the tasks it depends on, and context_files and hints where they help. Workers start on a task as soon as its dependencies are done, while you are still planning, so add the foundations first.
4. Do not add tasks that exist already. When the plan is complete, answer in one line: how many tasks you added and why you split the work this way.
";

pub const SUMMARY: &str = "\
A team of agents worked on this goal: {goal}

Every task, with its outcome:
{tasks}

Write a short summary for the developer: what was done, what failed and why, and what they should look at next. Answer in plain text; do not use any tools.
";

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
