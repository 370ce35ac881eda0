//! What each command does: find the workspace, check what can be checked before
//! anything is sent, make one request (or a few) to the daemon, and print the answer,
//! as text through `render` or as the protocol's own objects with `--json`.

mod config;
mod daemon;
mod runs;
mod state;
mod tasks;
mod watch;

use std::io::{self, Write};

use baton_protocol::methods::{self, NewDiscovery, Request};
use baton_protocol::{Client, ClientError, ConnectConfig, ErrorKind, RunMode, Workspace};
use console::style;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args::{Cli, Command};
use crate::{printable, render};

/// Why a command did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The daemon refused, or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The command's own input is wrong (a file, a setting's value); nothing was sent.
    #[error("{0}")]
    Input(String),
    /// The command line names what does not exist (a setting); nothing was sent. Bad
    /// usage, as clap's own refusals are.
    #[error("{0}")]
    Usage(String),
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
    /// A run stopped before its work was done (`baton stop` elsewhere, its budget, a
    /// leader that made no plan).
    #[error("the run stopped before its work was done: {}", printable::text(.0))]
    RunStopped(String),
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
            CommandError::Input(_) | CommandError::Usage(_) => ErrorKind::InvalidInputError,
            CommandError::Mcp(crate::mcp::McpError::Client(err)) => err.kind(),
            CommandError::Workspace(_)
            | CommandError::Output(_)
            | CommandError::Mcp(_)
            | CommandError::TasksFailed(_)
            | CommandError::RunStopped(_)
            | CommandError::Interrupted => ErrorKind::OrchestrationError,
        }
    }

    /// The exit status: 2 for bad usage, 1 for every other error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A reader that went away (`baton watch | head`) has had all it wanted.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, CommandError::Output(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Runs the command the user typed. It is long because it has one arm per command,
/// each a call.
pub async fn run(cli: Cli) -> Result<()> {
    // `-C DIR` is `cd DIR && baton`: the workspace is found from DIR, and the files
    // a command names are read and written from there; `init --here` makes one in
    // DIR on purpose.
    let here = matches!(&cli.command, Command::Init(args) if args.here);
    let workspace = match &cli.workspace {
        Some(dir) => std::env::set_current_dir(dir).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot work in {} (-C): {err}", dir.display()),
            )
        }),
        None => Ok(()),
    }
    .and_then(|()| std::env::current_dir())
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
        Command::Tasks { status } => session.tasks(status).await,
        Command::Show { task } => session.show_task(task).await,
        Command::Claim { agent } => session.claim(agent).await,
        Command::Complete(args) => session.complete(args).await,
        Command::Fail { task, error } => session.fail(task, error).await,
        Command::Cancel { task } => session.cancel(task).await,
        Command::Retry { task } => session.retry(task).await,
        Command::Edit(args) => session.edit(args).await,
        Command::Delete { task } => session.delete(task).await,
        Command::Discover {
            text,
            agent,
            task,
            tags,
        } => {
            let discovery = NewDiscovery {
                agent_id: agent,
                content: text,
                related_task: task,
                tags,
            };
            session.discover(&discovery).await
        }
        Command::Discoveries => session.discoveries().await,
        Command::Status => session.status().await,
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
        Command::Merge => session.merge().await,
        Command::Start => session.start().await,
        Command::Stop => session.stop().await,
        Command::History => session.history().await,
        Command::Graph(args) => crate::views::graph(&session, args).await,
        Command::Timeline(args) => crate::views::timeline(&session, args).await,
        Command::Report(args) => crate::views::report(&session, args).await,
        Command::Clean { all } => session.clean(all).await,
        Command::Reset { yes } => session.reset(yes).await,
        Command::Save { file } => session.save(&file).await,
        Command::Load { file } => session.load(&file).await,
        Command::Restore { from, yes } => session.restore(from.as_deref(), yes).await,
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

    /// Connects (starting the daemon when none runs) and sends one request. A
    /// daemon that stopped before it read the request did nothing for it: the
    /// request goes once more, to the daemon that starts next.
    pub async fn request<R: Request>(&self, params: &R::Params) -> Result<R::Result> {
        match self.connect().await?.request::<R>(params).await {
            Err(ClientError::Stopped) => Ok(self.connect().await?.request::<R>(params).await?),
            answer => Ok(answer?),
        }
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
