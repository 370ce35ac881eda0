//! What each command does: find the workspace, check what can be checked before
//! anything is sent, make one request (or a few) to the daemon, and print the answer,
//! as text through `render` or as the protocol's own objects with `--json`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_protocol::methods::{
    self, AddTasksParams, ClaimTaskParams, CompleteTaskParams, ConfigPatch, DaemonInfoResult,
    EditTaskParams, FailTaskParams, InitParams, ListTasksParams, NewDiscovery, NewTask, Request,
    StateFile, TaskRef,
};
use baton_protocol::{
    client, Client, ClientError, Config, ConnectConfig, ErrorKind, Event, RunMode, Task,
    TaskResult, Workspace,
};
use console::style;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::args::{AddArgs, Cli, Command, CompleteArgs, DaemonCommand, EditArgs, InitArgs};
use crate::{printable, render, settings};

/// How long `baton daemon stop` waits for the daemon to exit: it finishes its
/// agents' shutdown and writes a snapshot first.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Why a command did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The daemon refused, or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The command's own input is wrong (a file, a setting); nothing was sent.
    #[error("{0}")]
    Input(String),
    /// There is no workspace where the command was asked to work.
    #[error("{0}")]
    Workspace(io::Error),
    /// The answer could not be written out.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    /// A run ended with failed tasks.
    #[error(
        "{} failed; `baton tasks --status failed` lists them, `baton logs ID` shows why",
        render::count(*.0, "task", "tasks")
    )]
    TasksFailed(usize),
    /// The agents' MCP bridge could not serve.
    #[error(transparent)]
    Mcp(#[from] crate::mcp::McpError),
    /// The user pressed Ctrl-C; what happened was said already.
    #[error("interrupted")]
    Interrupted,
}

impl CommandError {
    /// The protocol's error kind, which `--json` reports so scripts can tell errors apart.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Client(err) => err.kind(),
            CommandError::Input(_) => ErrorKind::InvalidInputError,
            CommandError::Mcp(crate::mcp::McpError::Client(err)) => err.kind(),
            CommandError::Workspace(_)
            | CommandError::Output(_)
            | CommandError::Mcp(_)
            | CommandError::TasksFailed(_)
            | CommandError::Interrupted => ErrorKind::OrchestrationError,
        }
    }

    /// A reader that went away (`baton watch | head`) has had all it wanted.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, CommandError::Output(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Runs the command the user typed.
pub async fn run(cli: Cli) -> Result<()> {
    // `-C DIR` finds the workspace as `cd DIR && baton` would; `init --here` makes
    // one in DIR on purpose.
    let here = matches!(&cli.command, Command::Init(args) if args.here);
    let workspace = match &cli.workspace {
        Some(dir) => Ok(dir.clone()),
        None => std::env::current_dir(),
    }
    .and_then(|dir| match here {
        true => Workspace::at(&dir),
        false => Workspace::discover(&dir),
    })
    .map_err(CommandError::Workspace)?;
    let session = Session {
        workspace,
        json: cli.json,
        verbose: cli.verbose,
    };
    match cli.command {
        Command::Init(args) => session.init(args).await,
        Command::Config {
            key,
            values,
            show_default,
        } => session.config(key, values, show_default).await,
        Command::Add(args) => session.add(args).await,
        Command::Tasks { status } => {
            let tasks = session
                .request::<methods::ListTasks>(&ListTasksParams { status })
                .await?;
            if tasks.is_empty() && !session.json {
                let which = status
                    .map(|status| format!("{status} "))
                    .unwrap_or_default();
                session.note(&format!("no {which}tasks"));
            }
            let width = console::Term::stdout()
                .size_checked()
                .map(|(_, columns)| usize::from(columns));
            session.show(&tasks, |tasks| render::task_list(tasks, width))
        }
        Command::Show { task } => {
            let task = session
                .request::<methods::GetTask>(&TaskRef { task_id: task })
                .await?;
            session.show(&task, render::task)
        }
        Command::Claim { agent } => {
            let claimed = session
                .request::<methods::ClaimTask>(&ClaimTaskParams { agent_id: agent })
                .await?;
            session.show(&claimed, |claimed| match claimed {
                Some(task) => task.id.to_string(),
                None => String::new(),
            })
        }
        Command::Complete(args) => session.complete(args).await,
        Command::Fail { task, error } => {
            let params = FailTaskParams {
                task_id: task,
                error,
            };
            let task = session.request::<methods::FailTask>(&params).await?;
            session.show(&task, |task| format!("failed {}", task.id))
        }
        Command::Cancel { task } => {
            let task = session
                .request::<methods::CancelTask>(&TaskRef { task_id: task })
                .await?;
            session.show(&task, |task| format!("cancelled {}", task.id))
        }
        Command::Retry { task } => {
            let reopened = session
                .request::<methods::RetryTask>(&TaskRef { task_id: task })
                .await?;
            session.show(&reopened, |tasks| id_lines(tasks))
        }
        Command::Edit(args) => {
            let task = session
                .request::<methods::EditTask>(&edit_params(args))
                .await?;
            session.show(&task, |task| format!("edited {}", task.id))
        }
        Command::Delete { task } => {
            let task = session
                .request::<methods::DeleteTask>(&TaskRef { task_id: task })
                .await?;
            session.show(&task, |task| format!("deleted {}", task.id))
        }
        Command::Discover {
            text,
            agent,
            task,
            tags,
        } => {
            let params = NewDiscovery {
                agent_id: agent,
                content: text,
                related_task: task,
                tags,
            };
            let discovery = session.request::<methods::AddDiscovery>(&params).await?;
            session.show(&discovery, |_| "discovery shared".into())
        }
        Command::Discoveries => {
            let discoveries = session.request::<methods::ListDiscoveries>(&()).await?;
            if discoveries.is_empty() && !session.json {
                session.note("no discoveries yet");
            }
            session.show(&discoveries, |found| render::discovery_list(found))
        }
        Command::Status => {
            let status = session.request::<methods::GetStatus>(&()).await?;
            session.show(&status, |status| render::status(status, chrono::Utc::now()))
        }
        Command::Watch => session.watch().await,
        Command::Run {
            goal,
            leader,
            predefined,
            detach,
        } => {
            let mode = match (leader, predefined) {
                (true, _) => Some(RunMode::Leader),
                (_, true) => Some(RunMode::Predefined),
                _ => None,
            };
            crate::run::run(&session, goal, mode, detach).await
        }
        Command::Plan { goal, detach } => {
            crate::run::run(&session, Some(goal), Some(RunMode::Plan), detach).await
        }
        Command::Logs {
            source,
            follow,
            full,
        } => {
            let detail = if full {
                render::Detail::Full
            } else {
                render::Detail::Short
            };
            crate::run::logs(&session, source, follow, detail).await
        }
        Command::Merge => {
            let merged = session.request::<methods::Merge>(&()).await?;
            session.show(&merged, |merged| merged.message.clone())
        }
        Command::Start => {
            // `baton/run` rather than `baton/start`, so that agents get this shell's
            // ANTHROPIC_* and the rest.
            let status = session.request::<methods::GetStatus>(&()).await?;
            if status.run.is_none() {
                if crate::run::waiting(&status.progress.by_status) == 0 {
                    return session.show(&status, |_| crate::run::NOTHING_TO_RUN.into());
                }
                let params = methods::RunParams {
                    mode: baton_protocol::RunMode::Predefined,
                    goal: None,
                    wait: false,
                    overrides: None,
                    env: Some(baton_protocol::AgentEnv::from_process()),
                };
                session.request::<methods::Run>(&params).await?;
            }
            let status = session.request::<methods::GetStatus>(&()).await?;
            session.show(&status, |status| {
                format!("started  {}", render::progress(&status.progress))
            })
        }
        Command::Stop => {
            let status = session.request::<methods::Stop>(&()).await?;
            session.show(&status, |status| {
                format!("stopped  {}", render::progress(&status.progress))
            })
        }
        Command::History => session.history().await,
        Command::Clean { all } => {
            let cleaned = session
                .request::<methods::Clean>(&methods::CleanParams { all })
                .await?;
            session.show(&cleaned, |cleaned| {
                match cleaned.branches.len() + cleaned.checkouts {
                    0 => "nothing to clean".into(),
                    _ => format!(
                        "removed {} branch(es) of finished tasks and {} idle checkout(s)",
                        cleaned.branches.len(),
                        cleaned.checkouts
                    ),
                }
            })
        }
        Command::Reset { yes } => session.reset(yes).await,
        Command::Save { file } => {
            let file = state_file(&file)?;
            let saved = session.request::<methods::SaveState>(&file).await?;
            session.show(&saved, render::saved)
        }
        Command::Load { file } => {
            let file = state_file(&file)?;
            let status = session.request::<methods::LoadState>(&file).await?;
            session.show(&status, |status| {
                format!(
                    "loaded {}  {}",
                    file.path,
                    render::progress(&status.progress)
                )
            })
        }
        Command::Restore { from } => session.restore(from.as_deref()).await,
        Command::Daemon(command) => session.daemon(command).await,
        Command::Mcp(args) => Ok(crate::mcp::serve(&session.workspace, args).await?),
    }
}

/// One command's context: where, and how to print.
pub struct Session {
    pub workspace: Workspace,
    pub json: bool,
    verbose: bool,
}

impl Session {
    /// Connects to the workspace's daemon, starting it when none runs.
    pub async fn connect(&self) -> Result<Client> {
        let config = ConnectConfig {
            start: true,
            ..ConnectConfig::default()
        };
        Ok(self.connect_with(config).await?)
    }

    /// Connects (starting the daemon when none runs) and sends one request.
    pub async fn request<R: Request>(&self, params: &R::Params) -> Result<R::Result> {
        Ok(self.connect().await?.request::<R>(params).await?)
    }

    pub async fn connect_with(&self, config: ConnectConfig) -> Result<Client, ClientError> {
        if self.verbose {
            self.note(&format!(
                "workspace {}, socket {}",
                self.workspace.root().display(),
                self.workspace.socket_path().display()
            ));
        }
        let client = Client::connect(&self.workspace, &config).await?;
        if self.verbose {
            self.note(&format!("connected to batond {}", client.daemon_version()));
        }
        if client.started_daemon() {
            // The daemon a command starts may be replacing one that crashed: say so.
            let status = client.request::<methods::GetStatus>(&()).await?;
            if let Some(crash) = &status.crash {
                self.note(&render::crash(crash));
            }
        }
        Ok(client)
    }

    /// Prints an answer: as JSON with `--json`, else as `human` renders it, every
    /// string in it made safe for a terminal first.
    pub fn show<T: Serialize + DeserializeOwned>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(value).map_err(io::Error::from)?
        } else {
            human(&printable::object(value).map_err(io::Error::from)?)
        };
        write_out(&text)?;
        Ok(())
    }

    /// A remark for the person at the terminal, on stderr so that pipes stay clean.
    /// A remark that cannot be written is not worth failing the command for.
    pub fn note(&self, text: &str) {
        let text = printable::text(text);
        let _ = writeln!(io::stderr(), "{}", style(text).dim().for_stderr());
    }

    async fn init(&self, args: InitArgs) -> Result<()> {
        let master_plan = match (args.plan, args.plan_file) {
            (Some(plan), _) => plan,
            (None, Some(file)) => fs::read_to_string(&file).map_err(|err| {
                CommandError::Input(format!("cannot read the plan {}: {err}", file.display()))
            })?,
            (None, None) => String::new(),
        };
        let params = InitParams {
            goal: args.goal,
            master_plan,
            config: ConfigPatch {
                max_workers: args.max_workers,
                model: args.model,
                task_timeout: args.task_timeout,
                verify_command: args.verify.map(Some),
                ..ConfigPatch::default()
            },
            keep: args.keep,
        };
        let before = self.request::<methods::GetStatus>(&()).await?;
        let counts = &before.progress.by_status;
        let finished = counts.done + counts.failed + counts.cancelled;
        let status = self.request::<methods::Init>(&params).await?;
        if !args.keep && finished > 0 && before.goal != status.goal {
            self.note(&format!(
                "the earlier board ({} tasks) was archived: `baton history` lists it, \
                 `baton load` brings it back (`--keep` keeps a board under a new goal)",
                before.progress.total_tasks
            ));
        }
        self.show(&status, |status| format!("goal set: {}", status.goal))
    }

    async fn history(&self) -> Result<()> {
        let boards = self.request::<methods::History>(&()).await?;
        if boards.is_empty() && !self.json {
            self.note("no archived board yet: a new goal or `baton reset` archives one");
        }
        self.show(&boards, |boards| render::history(boards))
    }

    async fn reset(&self, yes: bool) -> Result<()> {
        if !yes {
            let status = self.request::<methods::GetStatus>(&()).await?;
            let question = format!(
                "Clear the board ({} tasks, {} discoveries)? It is archived first \
                 (`baton history`). [y/N] ",
                status.progress.total_tasks,
                status.discoveries.len()
            );
            if !confirmed(&question)? {
                return Err(CommandError::Input(
                    "nothing was changed; `baton reset --yes` clears the board without asking"
                        .into(),
                ));
            }
        }
        let reset = self.request::<methods::Reset>(&()).await?;
        self.show(&reset, |reset| match &reset.archived {
            Some(board) => format!(
                "board cleared; the earlier one is archived as {} (`baton load {}` brings it back)",
                board.name, board.path
            ),
            None => "board cleared; it held nothing to archive".into(),
        })
    }

    async fn config(
        &self,
        key: Option<String>,
        values: Vec<String>,
        show_default: bool,
    ) -> Result<()> {
        let Some(key) = key else {
            let config = self.request::<methods::GetConfig>(&()).await?;
            return self.show(&config, render::config);
        };
        if show_default {
            let text = settings::default_prompt(&key).map_err(input)?.to_owned();
            return self.show(&text, String::clone);
        }
        if values.is_empty() {
            settings::known(&key).map_err(input)?;
            let config = self.request::<methods::GetConfig>(&()).await?;
            let value = setting(&config, &key)?;
            return self.show(&value, |value| render::config_value(&key, value));
        }
        let patch = settings::patch(&key, &values).map_err(input)?;
        let config = self.request::<methods::Configure>(&patch).await?;
        let value = setting(&config, &key)?;
        self.show(&config, |_| {
            format!("{key} = {}", render::config_value(&key, &value))
        })
    }

    async fn add(&self, args: AddArgs) -> Result<()> {
        match (args.batch, args.description) {
            (Some(file), _) => {
                let tasks = read_batch(&file)?;
                let added = self
                    .request::<methods::AddTasks>(&AddTasksParams { tasks })
                    .await?;
                self.show(&added, |tasks| id_lines(tasks))
            }
            (None, Some(description)) => {
                let mut task = NewTask::new(description);
                if let Some(priority) = args.priority {
                    task.priority = priority;
                }
                task.dependencies = args.dependencies;
                task.context_files = args.files;
                task.hints = args.hint.unwrap_or_default();
                task.model = args.model;
                let added = self.request::<methods::AddTask>(&task).await?;
                self.show(&added, |task| task.id.to_string())
            }
            (None, None) => Err(CommandError::Input(
                "say what the task is, or give --batch FILE".into(),
            )),
        }
    }

    async fn complete(&self, args: CompleteArgs) -> Result<()> {
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

    /// Prints every event until the daemon closes the connection or the user presses
    /// Ctrl-C; both are a normal end.
    async fn watch(&self) -> Result<()> {
        let mut client = self
            .connect_with(ConnectConfig {
                start: true,
                events: true,
                ..ConnectConfig::default()
            })
            .await?;
        let Some(events) = client.events() else {
            return Err(ClientError::Closed.into());
        };
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => write_out(&self.event_line(&event)?)?,
                    None => {
                        if !self.json {
                            self.note("the daemon closed the connection");
                        }
                        return Ok(());
                    }
                },
                Ok(()) = &mut ctrl_c => return Ok(()),
            }
        }
    }

    /// One event as `watch` prints it: a JSON line, or a line of text.
    fn event_line(&self, event: &Event) -> Result<String> {
        if self.json {
            Ok(serde_json::to_string(event).map_err(io::Error::from)?)
        } else if !render::worth_a_line(event) {
            Ok(String::new())
        } else {
            let event = printable::object(event).map_err(io::Error::from)?;
            Ok(render::fit(
                &render::event(&event),
                terminal_width(console::Term::stdout()),
            ))
        }
    }

    async fn daemon(&self, command: DaemonCommand) -> Result<()> {
        match command {
            DaemonCommand::Start => {
                let info = self.request::<methods::DaemonInfo>(&()).await?;
                self.show(&info, render::daemon_info)
            }
            DaemonCommand::Status => {
                let Some(client) = self.running_daemon(false).await? else {
                    return self.show(&None::<DaemonInfoResult>, |_| self.no_daemon());
                };
                let info = client.request::<methods::DaemonInfo>(&()).await?;
                self.show(&info, render::daemon_info)
            }
            DaemonCommand::Stop => {
                let Some(client) = self.running_daemon(false).await? else {
                    return self.show(&None::<DaemonInfoResult>, |_| self.no_daemon());
                };
                let info = client.request::<methods::DaemonInfo>(&()).await?;
                match client.request::<methods::StopDaemon>(&()).await {
                    Ok(()) | Err(ClientError::Closed) => {}
                    Err(err) => return Err(err.into()),
                }
                drop(client);
                // The daemon lets go of the workspace as it exits: wait for that, so
                // that a command run right after this one starts a new daemon at once.
                client::wait_for_exit(&self.workspace, info.pid, STOP_WAIT).await?;
                self.show(&info, |info| {
                    format!(
                        "stopped batond {} (pid {}) for {}",
                        info.version, info.pid, info.workspace
                    )
                })
            }
        }
    }

    /// Replaces a stopped workspace's state with a snapshot or a saved file, through
    /// `batond --restore` (the store is the daemon's to write).
    async fn restore(&self, from: Option<&Path>) -> Result<()> {
        if let Some(client) = self.running_daemon(false).await? {
            let info = client.request::<methods::DaemonInfo>(&()).await?;
            return Err(CommandError::Input(format!(
                "batond (pid {}) serves this workspace; `baton daemon stop` it, then restore",
                info.pid
            )));
        }
        let mut command = tokio::process::Command::new(client::daemon_program());
        command
            .arg("--workspace")
            .arg(self.workspace.root())
            .arg("--restore");
        if let Some(from) = from {
            let from = std::path::absolute(from)
                .map_err(|err| CommandError::Input(format!("{}: {err}", from.display())))?;
            command.arg("--from").arg(from);
        }
        let output = command
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|err| {
                CommandError::Input(format!(
                    "cannot run {}: {err}",
                    client::daemon_program().display()
                ))
            })?;
        let said = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let line = text.lines().last().unwrap_or_default();
            line.strip_prefix("batond: ").unwrap_or(line).to_owned()
        };
        if !output.status.success() {
            return Err(ClientError::Refused(said(&output.stderr)).into());
        }
        let message = said(&output.stdout);
        self.show(&serde_json::json!({ "message": message }), |_| {
            message.clone()
        })
    }

    /// Connects to the workspace's daemon without starting one; `None` when none runs.
    /// Any version will do, so that a daemon left from an older baton can be stopped.
    /// With `events`, the connection's end can be awaited through the event stream.
    async fn running_daemon(&self, events: bool) -> Result<Option<Client>> {
        let config = ConnectConfig {
            start: false,
            events,
            any_version: true,
            ..ConnectConfig::default()
        };
        match self.connect_with(config).await {
            Ok(client) => Ok(Some(client)),
            Err(ClientError::Connect { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    fn no_daemon(&self) -> String {
        format!("no daemon runs for {}", self.workspace.root().display())
    }
}

/// How wide the terminal is, when the output goes to one.
pub fn terminal_width(term: console::Term) -> Option<usize> {
    term.size_checked().map(|(_, columns)| usize::from(columns))
}

/// Writes to stdout, ending with a newline unless there is nothing to say.
fn write_out(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
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
        context_files: Some(args.files).filter(|files| !files.is_empty()),
        hints: args.hint,
        ..EditTaskParams::new(args.task)
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
    serde_json::from_str(&text).map_err(|err| {
        CommandError::Input(format!(
            "{name} is not a JSON list of tasks \
             ({{description, priority, dependencies, context_files, hints}}): {err}"
        ))
    })
}

/// The daemon reads state files from its own directory: give it an absolute path,
/// taken from where the user stands.
fn state_file(file: &Path) -> Result<StateFile> {
    let path: PathBuf = std::path::absolute(file)
        .map_err(|err| CommandError::Input(format!("{}: {err}", file.display())))?;
    let path = path.into_os_string().into_string().map_err(|path| {
        CommandError::Input(format!(
            "{} is not valid UTF-8; choose another file name",
            PathBuf::from(path).display()
        ))
    })?;
    Ok(StateFile { path })
}

/// Every setting's name, as the protocol spells it.
/// A setting the command line could not read: nothing was sent.
fn input(err: settings::SettingError) -> CommandError {
    CommandError::Input(err.to_string())
}

/// One setting's value in a configuration.
fn setting(config: &Config, key: &str) -> Result<Value> {
    let settings = serde_json::to_value(config).map_err(io::Error::from)?;
    settings
        .get(key)
        .cloned()
        .ok_or_else(|| CommandError::Input(format!("unknown setting `{key}`")))
}

/// Asks a yes-or-no question at the terminal; no terminal means no.
fn confirmed(question: &str) -> Result<bool> {
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question}");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn state_files_are_sent_as_absolute_paths() {
        let file = state_file(Path::new("state.json")).unwrap();
        let expected = std::env::current_dir().unwrap().join("state.json");
        assert_eq!(Path::new(&file.path), expected);
    }
}
