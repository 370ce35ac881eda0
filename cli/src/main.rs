//! `baton`: the command line face of a workspace's daemon. This file parses the
//! command line, runs the command on a single-threaded runtime (a call is one short
//! exchange with the daemon, and starting quickly matters more than parallelism), and
//! turns the outcome into an exit status: 0 done, 1 an error, 2 bad usage.

mod args;
mod commands;
mod mcp;
mod printable;
mod progress;
mod render;
mod run;
mod settings;
mod views;

use std::io::Write;
use std::process::ExitCode;

use baton_protocol::ErrorKind;
use clap::error::ErrorKind as ClapErrorKind;
use clap::Parser;
use console::style;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return refuse_usage(err),
    };
    if std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report(
                json,
                ErrorKind::OrchestrationError,
                &format!("cannot start the async runtime: {err}"),
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_closed_output() => ExitCode::SUCCESS,
        // The shell's convention for a command ended by Ctrl-C (128 + SIGINT).
        Err(commands::CommandError::Interrupted) => ExitCode::from(130),
        Err(err) => {
            report(json, err.kind(), &err.to_string());
            ExitCode::from(err.exit_code())
        }
    }
}

/// An error as one line on stderr: text for people, a JSON object with `--json`.
/// Nothing is left to do when stderr itself is gone, so a failed write is ignored.
fn report(json: bool, kind: ErrorKind, message: &str) {
    let line = if json {
        serde_json::json!({ "error": { "kind": kind, "message": message } }).to_string()
    } else {
        format!(
            "{} {}",
            style("error:").red().bold().for_stderr(),
            printable::text(message)
        )
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Ends on what clap refused: its help and version as clap prints them, a usage
/// error with what it echoes of the command line shown safely (escaped, each line
/// clipped), since a value typed there may hold anything.
fn refuse_usage(err: clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ClapErrorKind::DisplayHelp
            | ClapErrorKind::DisplayVersion
            | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let said = err.render().to_string();
    let mut stderr = std::io::stderr().lock();
    for line in said.lines() {
        let shown = render::fit(&printable::text(line), Some(USAGE_LINE_LIMIT));
        let _ = writeln!(stderr, "{shown}");
    }
    ExitCode::from(2)
}

/// The most of one line of a usage error shown: enough for any flag's name and a
/// value's start.
const USAGE_LINE_LIMIT: usize = 240;
