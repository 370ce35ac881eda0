//! The MCP configuration each agent is started with: the `baton mcp` bridge for
//! that agent (and its task), written to `.baton/agents/<agent>.mcp.json` for the
//! agent's life.

use std::path::{Path, PathBuf};

use baton_protocol::Workspace;
use serde_json::json;

/// The `--mcp-config` file content: the `baton mcp` bridge for one agent (and task).
pub fn mcp_config(
    baton: &Path,
    workspace: &Path,
    agent_id: &str,
    task: Option<&str>,
) -> serde_json::Value {
    let mut args = vec![
        "-C".to_string(),
        workspace.display().to_string(),
        "mcp".into(),
        "--agent".into(),
        agent_id.into(),
    ];
    if let Some(task) = task {
        args.extend(["--task".into(), task.into()]);
    }
    json!({ "mcpServers": { "baton": { "type": "stdio", "command": baton, "args": args } } })
}

/// The `baton` CLI that serves as the agents' MCP bridge: `BATON_CLI`, else the one
/// beside this daemon, else `baton` on PATH.
pub fn baton_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("BATON_CLI") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("baton")))
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("baton"))
}

/// Writes the agent's MCP configuration; answers its path, or none when it could
/// not be written (the agent then runs without baton's tools).
pub fn write(workspace: &Workspace, agent_id: &str, task: Option<&str>) -> Option<PathBuf> {
    let path = workspace.mcp_config(agent_id);
    let config = mcp_config(&baton_cli(), workspace.root(), agent_id, task);
    let written = std::fs::create_dir_all(workspace.agents_dir())
        .and_then(|()| std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("JSON")));
    match written {
        Ok(()) => Some(path),
        Err(err) => {
            tracing::warn!(
                "cannot write {}: {err}; the agent runs without baton's tools",
                path.display()
            );
            None
        }
    }
}
