"""Finding a workspace's daemon: the ``baton`` CLI starts it unless one runs and says
where its socket is (``baton -C DIR daemon start --json``), so the workspace, the
socket path and how the daemon is started are decided in one place, the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .exceptions import OrchestrationError

__all__ = ["DaemonInfo", "find_cli", "start_daemon"]

#: How long ``baton daemon start`` may take; it waits up to 10 s for the daemon itself.
_START_TIMEOUT_S = 30


@dataclass(frozen=True)
class DaemonInfo:
    """Which daemon serves the workspace, as ``baton/daemonInfo`` says."""

    version: str
    pid: int
    workspace: str
    socket: str
    log_file: str


def find_cli() -> Optional[str]:
    """The ``baton`` CLI: ``$BATON_CLI``, else ``baton`` on PATH, else ``$CARGO_HOME/bin``."""
    named = os.environ.get("BATON_CLI")
    if named:
        return named
    found = shutil.which("baton")
    if found:
        return found
    cargo_home = os.environ.get("CARGO_HOME") or str(Path.home() / ".cargo")
    installed = Path(cargo_home) / "bin" / "baton"
    return str(installed) if os.access(installed, os.X_OK) else None


def _failure(output: str) -> Optional[str]:
    """The CLI's last word: with ``--json`` an ``{"error": {"message"}}`` object."""
    lines = output.strip().splitlines()
    if not lines:
        return None
    last = lines[-1]
    try:
        said = json.loads(last)
        message = said["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return last[len("error: "):] if last.lower().startswith("error: ") else last


def start_daemon(working_directory: str) -> DaemonInfo:
    """Starts the daemon of the workspace at ``working_directory`` unless one runs,
    and answers where it is."""
    cli = find_cli()
    if cli is None:
        raise OrchestrationError(
            "the baton CLI was not found in $BATON_CLI, on PATH nor in $CARGO_HOME/bin; "
            "install it (`cargo install --path cli` and `cargo install --path daemon`) or set BATON_CLI"
        )
    command = [cli, "-C", working_directory, "daemon", "start", "--json"]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
    except OSError as err:
        raise OrchestrationError(
            f"could not run the baton CLI `{cli}`: {err}; check BATON_CLI or reinstall it"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise OrchestrationError(
            f"`baton daemon start` did not finish within {_START_TIMEOUT_S}s for {working_directory}; "
            "`baton daemon status` tells whether a daemon runs"
        ) from err
    if done.returncode != 0:
        reason = _failure(done.stderr) or _failure(done.stdout) or f"it exited with status {done.returncode}"
        raise OrchestrationError(
            f"could not start the baton daemon for {working_directory}: {reason}; "
            f"`baton -C {working_directory} daemon start` shows what goes wrong"
        )
    try:
        info = json.loads(done.stdout)
        return DaemonInfo(
            version=str(info["version"]),
            pid=int(info["pid"]),
            workspace=str(info["workspace"]),
            socket=str(info["socket"]),
            log_file=str(info["log_file"]),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise OrchestrationError(
            f"`baton daemon start --json` printed something unexpected ({done.stdout.strip()[:200]!r}); "
            "check that `baton` is the CLI of this version"
        ) from err
