//! The board's tasks and discoveries, one request each: `baton add`, `tasks`, `show`,
//! `claim`, `complete`, `fail`, `cancel`, `retry`, `edit`, `delete`, `discover`,
//! `discoveries`.

use std::fs;
use std::io::{self};
use std::path::{Component, Path, PathBuf};

use baton_protocol::methods::{
    self, AddTasksParams, ClaimTaskParams, CompleteTaskParams, EditTaskParams, FailTaskParams,
    ListTasksParams, NewDiscovery, NewTask, TaskRef,
};
use baton_protocol::{Task, TaskId, TaskResult, TaskStatus};

use crate::args::{AddArgs, CompleteArgs, EditArgs};
use crate::render;

use super::{CommandError, Result, Session};

impl Session {
    pub(super) async fn tasks(&self, status: Option<TaskStatus>) -> Result<()> {
        let tasks = self
            .request::<methods::ListTasks>(&ListTasksParams { status })
            .await?;
        if tasks.is_empty() && !self.json {
            let which = status
                .map(|status| format!("{status} "))
                .unwrap_or_default();
            self.note(&format!("no {which}tasks"));
        }
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_, columns)| usize::from(columns));
        self.show(&tasks, |tasks| render::task_list(tasks, width))
    }

    pub(super) async fn show_task(&self, task: TaskId) -> Result<()> {
        let task = self
            .request::<methods::GetTask>(&TaskRef { task_id: task })
            .await?;
        self.show(&task, render::task)
    }

    pub(super) async fn claim(&self, agent: String) -> Result<()> {
        let claimed = self
            .request::<methods::ClaimTask>(&ClaimTaskParams { agent_id: agent })
            .await?;
        self.show(&claimed, |claimed| match claimed {
            Some(task) => task.id.to_string(),
            None => String::new(),
        })
    }

    pub(super) async fn fail(&self, task: TaskId, error: String) -> Result<()> {
        let params = FailTaskParams {
            task_id: task,
            error,
        };
        let task = self.request::<methods::FailTask>(&params).await?;
        self.show(&task, |task| format!("failed {}", task.id))
    }

    pub(super) async fn cancel(&self, task: TaskId) -> Result<()> {
        let task = self
            .request::<methods::CancelTask>(&TaskRef { task_id: task })
            .await?;
        self.show(&task, |task| format!("cancelled {}", task.id))
    }

    pub(super) async fn retry(&self, task: TaskId) -> Result<()> {
        let reopened = self
            .request::<methods::RetryTask>(&TaskRef { task_id: task })
            .await?;
        self.show(&reopened, |tasks| id_lines(tasks))
    }

    pub(super) async fn edit(&self, mut args: EditArgs) -> Result<()> {
        args.files = self.named_from_root(args.files);
        let task = self
            .request::<methods::EditTask>(&edit_params(args))
            .await?;
        self.show(&task, |task| format!("edited {}", task.id))?;
        if task.status.is_held() && !self.json {
            self.note(&format!(
                "{} is being worked on: its agent goes on with the task as it was given; \
                 the edit is what a later attempt gets",
                task.id
            ));
        }
        Ok(())
    }

    pub(super) async fn delete(&self, task: TaskId) -> Result<()> {
        let task = self
            .request::<methods::DeleteTask>(&TaskRef { task_id: task })
            .await?;
        self.show(&task, |task| format!("deleted {}", task.id))
    }

    pub(super) async fn discover(&self, discovery: &NewDiscovery) -> Result<()> {
        let discovery = self.request::<methods::AddDiscovery>(discovery).await?;
        self.show(&discovery, |_| "discovery shared".into())
    }

    pub(super) async fn discoveries(&self) -> Result<()> {
        let discoveries = self.request::<methods::ListDiscoveries>(&()).await?;
        if discoveries.is_empty() && !self.json {
            self.note("no discoveries yet");
        }
        self.show(&discoveries, |found| render::discovery_list(found))
    }

    pub(super) async fn add(&self, args: AddArgs) -> Result<()> {
        match (args.batch, args.description) {
            (Some(file), _) => {
                let tasks = read_batch(&file)?;
                let added = self
                    .request::<methods::AddTasks>(&AddTasksParams { tasks })
                    .await?;
                self.show(&added, |tasks| id_lines(tasks))?;
                self.note_failed_at_once(&added);
                Ok(())
            }
            (None, Some(description)) => {
                let mut task = NewTask::new(description);
                if let Some(priority) = args.priority {
                    task.priority = priority;
                }
                task.dependencies = args.dependencies;
                task.context_files = self.named_from_root(args.files);
                task.hints = args.hint.unwrap_or_default();
                task.model = args.model;
                let added = self.request::<methods::AddTask>(&task).await?;
                self.show(&added, |task| task.id.to_string())?;
                self.note_failed_at_once(std::slice::from_ref(&added));
                Ok(())
            }
            (None, None) => Err(CommandError::Input(
                "say what the task is, or give --batch FILE".into(),
            )),
        }
    }

    /// Context files as typed, named from the workspace's root.
    fn named_from_root(&self, files: Vec<String>) -> Vec<String> {
        let Ok(cwd) = std::env::current_dir() else {
            return files;
        };
        let root = self.workspace.root();
        files
            .iter()
            .map(|file| from_root(root, &cwd, file))
            .collect()
    }

    /// Says which new tasks failed as they were added, a dependency having failed.
    fn note_failed_at_once(&self, added: &[Task]) {
        for task in added
            .iter()
            .filter(|task| task.status == TaskStatus::Failed)
        {
            let reason = task
                .result
                .as_ref()
                .and_then(|result| result.error.as_deref());
            let retry = task.failed_dependency.as_ref().unwrap_or(&task.id);
            self.note(&format!(
                "{} failed at once: {}; `baton retry {retry}` reopens it",
                task.id,
                reason.unwrap_or("a dependency failed")
            ));
        }
    }

    pub(super) async fn complete(&self, args: CompleteArgs) -> Result<()> {
        let params = CompleteTaskParams {
            task_id: args.task,
            result: TaskResult {
                output: args.output.unwrap_or_default(),
                files_modified: args.modified,
                files_created: args.created,
                discoveries: args.discoveries,
                ..TaskResult::default()
            },
        };
        let task = self.request::<methods::CompleteTask>(&params).await?;
        self.show(&task, |task| format!("completed {}", task.id))
    }
}

/// What `baton edit` asks to change: only what was given.
fn edit_params(args: EditArgs) -> EditTaskParams {
    let dependencies = if args.no_deps {
        Some(Vec::new())
    } else {
        Some(args.dependencies).filter(|dependencies| !dependencies.is_empty())
    };
    EditTaskParams {
        description: args.description,
        priority: args.priority,
        dependencies,
        context_files: Some(args.files).filter(|files| args.no_files || !files.is_empty()),
        hints: args.hint,
        model: args
            .model
            .map(|model| Some(model).filter(|model| model != "none")),
        ..EditTaskParams::new(args.task)
    }
}

/// A context file as agents read it, from the workspace's root (their worktree's),
/// however it was written from where the command was typed: `main.rs` typed in
/// `src/` is `src/main.rs`. A path outside the workspace stays as written.
fn from_root(root: &Path, cwd: &Path, file: &str) -> String {
    let mut path = PathBuf::new();
    for part in cwd.join(file).components() {
        match part {
            Component::ParentDir => {
                path.pop();
            }
            Component::CurDir => {}
            part => path.push(part),
        }
    }
    match path.strip_prefix(root) {
        Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
        _ => file.to_owned(),
    }
}

fn id_lines(tasks: &[Task]) -> String {
    tasks.iter().map(|task| format!("{}\n", task.id)).collect()
}

/// The tasks of a `--batch` file (or of standard input for `-`), checked whole before
/// anything is sent.
fn read_batch(file: &Path) -> Result<Vec<NewTask>> {
    let (name, text) = if file == Path::new("-") {
        ("standard input".to_owned(), io::read_to_string(io::stdin()))
    } else {
        (file.display().to_string(), fs::read_to_string(file))
    };
    let text = text.map_err(|err| CommandError::Input(format!("cannot read {name}: {err}")))?;
    // Editors on Windows begin a UTF-8 file with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(text).map_err(|err| {
        CommandError::Input(format!(
            "{name} is not a JSON list of tasks \
             ({{description, priority, dependencies, context_files, hints}}): {err}"
        ))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_context_file_is_named_from_the_workspace_s_root() {
        use std::path::Path;
        let root = Path::new("/w");
        let named = |cwd: &str, file: &str| super::from_root(root, Path::new(cwd), file);
        assert_eq!(named("/w/src", "main.rs"), "src/main.rs");
        assert_eq!(named("/w/src", "./main.rs"), "src/main.rs");
        assert_eq!(named("/w", "/w/src/main.rs"), "src/main.rs");
        assert_eq!(named("/w/src", "../README.md"), "README.md");
        assert_eq!(named("/w", "src/lib"), "src/lib");
        assert_eq!(named("/elsewhere", "notes.md"), "notes.md");
        assert_eq!(named("/w", "/etc/hosts"), "/etc/hosts");
    }

    use super::*;

    #[test]
    fn a_malformed_batch_names_the_file_and_the_fault() {
        let dir = std::env::temp_dir().join(format!("baton-cli-batch-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tasks.json");
        fs::write(&file, r#"[{"description": "a", "priority": "high"}]"#).unwrap();
        let err = read_batch(&file).unwrap_err().to_string();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            err,
            format!(
                "{} is not a JSON list of tasks ({{description, priority, dependencies, \
                 context_files, hints}}): invalid type: string \"high\", expected u8 \
                 at line 1 column 40",
                file.display()
            )
        );
    }
}
