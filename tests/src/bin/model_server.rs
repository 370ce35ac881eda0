//! `model_server`: the scripted Messages API of the end-to-end tests, served on a
//! loopback port for tests written in other languages (the Python client's).
//!
//! It installs (or finds) the pinned Claude Code, starts the server and prints one
//! JSON line: `{"url", "claude", "env"}`, where `env` is what the daemon's agents
//! need in their environment to run that Claude Code against this server with
//! `--home` as their HOME. It serves until its standard input closes, so it ends
//! with the test that started it.
//!
//! ```text
//! cargo run -p baton-tests --bin model_server -- --home /tmp/agent-home
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use baton_tests::claude::{claude_binary, claude_env};
use baton_tests::model_server::ModelServer;
use clap::Parser;
use serde_json::json;

/// Serves the scripted model until standard input closes.
#[derive(Debug, Parser)]
struct Args {
    /// The HOME the agents run with (Claude Code keeps its state there)
    #[arg(long)]
    home: PathBuf,
}

fn main() {
    let args = Args::parse();
    let claude = claude_binary();
    let server = ModelServer::start();
    // Not IS_SANDBOX: agents get exactly the permissions baton gives them.
    let env: BTreeMap<&str, String> = claude_env(server.url(), &args.home)
        .into_iter()
        .filter(|(name, _)| *name != "IS_SANDBOX")
        .collect();
    println!(
        "{}",
        json!({ "url": server.url(), "claude": claude, "env": env })
    );
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(server);
}
