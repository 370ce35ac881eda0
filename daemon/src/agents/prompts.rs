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

/// The most bytes a prompt may take. Claude Code reads at most 10 MiB on its standard
/// input and silently runs on what it read, so a longer prompt would reach the model
/// cut, without its end, and at the price of every token before the cut. Only a
/// template that repeats placeholders with long values comes near it: each value is
/// bounded on its own.
pub const PROMPT_LIMIT: usize = 8 * 1024 * 1024;

/// A template that would make a prompt over [`PROMPT_LIMIT`]; rendering it stopped
/// there, so it never took more memory than that.
#[derive(Debug, Clone, thiserror::Error)]
#[error("its prompt would be over {} MiB, more than Claude Code reads; the template `{template}` repeats placeholders whose values are long: name each once, or shorten what they hold", PROMPT_LIMIT / (1024 * 1024))]
pub struct PromptTooLong {
    /// The setting that holds the template.
    pub template: &'static str,
}

/// Fills in every known `{placeholder}`; anything else in braces stays as written.
/// `template_name` is the setting the template comes from, for the error.
pub fn render(
    template: &str,
    values: &PromptValues,
    template_name: &'static str,
) -> Result<String, PromptTooLong> {
    let mut out = String::with_capacity(template.len().min(PROMPT_LIMIT) + 1024);
    let push = |out: &mut String, piece: &str| {
        if out.len() + piece.len() > PROMPT_LIMIT {
            return Err(PromptTooLong {
                template: template_name,
            });
        }
        out.push_str(piece);
        Ok(())
    };
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        push(&mut out, &rest[..open])?;
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .and_then(|close| Some((values.get(&after[..close])?, close)));
        match value {
            Some((value, close)) => {
                push(&mut out, value)?;
                rest = &after[close + 1..];
            }
            None => {
                push(&mut out, "{")?;
                rest = after;
            }
        }
    }
    push(&mut out, rest)?;
    Ok(out)
}

pub use baton_protocol::prompts::{LEADER, REVIEWER, SUMMARY, WORKER};

/// The most a prompt's dependencies or its discoveries take, in bytes each: a model
/// reads a few hundred kilobytes at most, and a plan's results and discoveries grow
/// without bound. What is left out, the agent reads with its tools.
const SECTION_LIMIT: usize = 64 * 1024;

/// The most characters of one dependency's result or one discovery a prompt takes.
const ENTRY_CHARS: usize = 4_000;

/// A worker's values: its task, what its dependencies produced, and what the agents
/// discovered, the newest first kept when not all of it fits.
pub fn worker_values(board: &Board, task: &Task, agent_id: &str) -> PromptValues {
    let dependencies = task.dependencies.iter().map(|id| {
        let Ok(dependency) = board.task(id) else {
            return format!("- {id}");
        };
        let output = dependency
            .result
            .as_ref()
            .map(|result| result.output.trim())
            .unwrap_or("");
        format!(
            "- {id} {}\n  Result: {}",
            clip(&dependency.description, 200),
            cut(output, &format!("get_task {id} gives the whole"))
        )
    });
    let dependencies = within_section(
        dependencies,
        "more finished dependencies; get_task gives each",
    );
    let discoveries = board.discoveries().iter().rev().map(|found| {
        format!(
            "- {} (by {}): {}",
            found.tags.join(", "),
            found.agent_id,
            cut(&found.content, "list_discoveries gives the whole")
        )
    });
    let mut discoveries = within_section(
        discoveries,
        "earlier discoveries; list_discoveries gives them all",
    );
    discoveries.reverse();
    PromptValues {
        goal: board.goal().to_owned(),
        master_plan: or_none(board.master_plan().to_owned()),
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

/// `text` cut to [`ENTRY_CHARS`], saying where the whole is when it was cut.
fn cut(text: &str, whole: &str) -> String {
    match text.char_indices().nth(ENTRY_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}… (cut; {whole})", &text[..end]),
    }
}

/// The entries that fit in [`SECTION_LIMIT`], in order, and a last line saying how
/// many more there were (those are never made).
fn within_section(mut entries: impl ExactSizeIterator<Item = String>, more: &str) -> Vec<String> {
    let mut kept = Vec::new();
    let mut size = 0;
    while let Some(entry) = entries.next() {
        if size + entry.len() > SECTION_LIMIT {
            kept.push(format!("- … and {} {more}", entries.len() + 1));
            break;
        }
        size += entry.len() + 1;
        kept.push(entry);
    }
    kept
}

/// The leader's values: the goal, the plan so far and every task there is.
pub fn leader_values(board: &Board, agent_id: &str) -> PromptValues {
    PromptValues {
        goal: board.goal().to_owned(),
        master_plan: board.master_plan().to_owned(),
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

/// Every task in a line, with its status and (when finished) its outcome, as many as
/// fit in [`SECTION_LIMIT`].
pub fn task_lines(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "(none)".into();
    }
    let lines = tasks.iter().map(|task| {
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
    });
    within_section(lines, "more tasks; `baton tasks` lists them all").join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::methods::{NewDiscovery, NewTask};
    use baton_protocol::{TaskId, TaskResult};

    #[test]
    fn a_worker_s_prompt_takes_a_bounded_part_of_results_and_discoveries_the_newest_kept() {
        let now = chrono::Utc::now();
        let mut board = Board::default();
        let first = NewTask::new("make the parser");
        let mut second = NewTask::new("use the parser");
        second.dependencies = vec![TaskId::numbered(1)];
        board.add_tasks(vec![first, second], now).unwrap();
        board.claim("worker-1", now).unwrap();
        let result = TaskResult {
            output: "p".repeat(3 * ENTRY_CHARS),
            ..TaskResult::default()
        };
        board.complete(&TaskId::numbered(1), result, now).unwrap();
        for n in 0..200 {
            let found = NewDiscovery {
                agent_id: "worker-1".into(),
                content: format!("finding {n} {}", "d".repeat(1_000)),
                related_task: None,
                tags: vec![],
            };
            board.add_discovery(found, now).unwrap();
        }
        let task = board.task(&TaskId::numbered(2)).unwrap();

        let values = worker_values(&board, &task, "worker-2");

        assert!(
            values.dependencies.len() < ENTRY_CHARS + 300,
            "{}",
            values.dependencies.len()
        );
        assert!(values
            .dependencies
            .ends_with("… (cut; get_task task-001 gives the whole)"));
        assert!(
            values.discoveries.len() <= SECTION_LIMIT,
            "{}",
            values.discoveries.len()
        );
        let lines: Vec<&str> = values.discoveries.lines().collect();
        let kept = lines.len() - 1;
        assert_eq!(
            lines[0],
            format!(
                "- … and {} earlier discoveries; list_discoveries gives them all",
                200 - kept
            )
        );
        assert!(
            lines[1].contains(&format!("finding {} ", 200 - kept)),
            "{}",
            &lines[1][..40]
        );
        assert!(lines[kept].contains("finding 199 "));
    }

    #[test]
    fn the_task_lines_of_a_large_plan_end_by_saying_how_many_were_left_out() {
        let mut board = Board::default();
        let plan = (0..2_000).map(|n| NewTask::new(format!("step {n} {}", "s".repeat(100))));
        board.add_tasks(plan.collect(), chrono::Utc::now()).unwrap();
        let lines = task_lines(&board.tasks(None));
        assert!(lines.len() <= SECTION_LIMIT, "{}", lines.len());
        let last = lines.lines().last().unwrap();
        let shown = lines.lines().count() - 1;
        assert_eq!(
            last,
            format!(
                "- … and {} more tasks; `baton tasks` lists them all",
                2_000 - shown
            )
        );
    }

    #[test]
    fn known_placeholders_are_filled_and_other_braces_stay() {
        let values = PromptValues {
            goal: "ship".into(),
            task_id: "task-001".into(),
            ..PromptValues::default()
        };
        assert_eq!(
            render(
                "{task_id}: {goal} {unknown} {json: 1} {",
                &values,
                "worker_prompt"
            )
            .unwrap(),
            "task-001: ship {unknown} {json: 1} {"
        );
    }

    #[test]
    fn a_template_that_would_pass_the_limit_is_refused_having_taken_no_more_than_it() {
        let values = PromptValues {
            description: "d".repeat(1024 * 1024),
            ..PromptValues::default()
        };
        let eight = "{description}".repeat(8);
        assert_eq!(
            render(&eight, &values, "worker_prompt").unwrap().len(),
            PROMPT_LIMIT
        );
        // A million placeholders would be a terabyte: rendering stops at the limit.
        let endless = "{description}".repeat(1_000_000);
        let refused = render(&endless, &values, "worker_prompt").unwrap_err();
        assert!(refused.to_string().contains("`worker_prompt`"), "{refused}");
        let over_by_text = format!("{eight}!");
        assert!(render(&over_by_text, &values, "leader_prompt").is_err());
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
