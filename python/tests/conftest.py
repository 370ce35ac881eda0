"""What the tests share: the real `baton` and `batond` built from this repository, a
private workspace per test whose daemon is stopped afterwards, and for agent tests the
scripted model server and the pinned Claude Code (`model_server` of the tests crate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def bin_dir() -> Path:
    """`BATON_BIN_DIR`, else the cargo target directory's debug build."""
    named = os.environ.get("BATON_BIN_DIR")
    if named:
        return Path(named)
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPOSITORY / "target")
    return Path(target) / "debug"


def _binary(name: str) -> Path:
    path = bin_dir() / name
    if not path.exists():
        pytest.exit(f"{path} is missing; build the binaries first (`cargo build --workspace --bins`)", 2)
    return path


@pytest.fixture(autouse=True)
def baton_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client finds this repository's CLI, which starts the daemon beside it."""
    monkeypatch.setenv("BATON_CLI", str(_binary("baton")))
    monkeypatch.delenv("BATON_DAEMON", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Polls `condition` until it holds; fails saying what was awaited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Workspace:
    """A directory with its own daemon, and the CLI on it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def baton(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(_binary("baton")), "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if check and done.returncode != 0:
            pytest.fail(f"baton {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.baton(*args, "--json").stdout)

    def tasks(self) -> List[Dict[str, Any]]:
        tasks: List[Dict[str, Any]] = self.json("tasks")
        return tasks


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    root.mkdir()
    space = Workspace(root.resolve())
    yield space
    space.baton("daemon", "stop", check=False)


class ModelServer:
    """The scripted model on a loopback port, with the Claude Code to run against it."""

    def __init__(self, home: Path) -> None:
        self._process = subprocess.Popen(
            [str(_binary("model_server")), "--home", str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            pytest.exit("model_server printed nothing; build it (`cargo build --workspace --bins`)", 2)
        said = json.loads(line)
        self.url: str = said["url"]
        self.claude: str = said["claude"]
        self.env: Dict[str, str] = said["env"]

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=10)


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    server = ModelServer(tmp_path_factory.mktemp("agent-home"))
    yield server
    server.close()


@pytest.fixture
def agents(workspace: Workspace, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace, its daemon started with the model server in its environment and
    Claude Code configured as the agent. Workers see only their task's description, so
    a leader's script in the goal stays the leader's."""
    for name, value in model_server.env.items():
        monkeypatch.setenv(name, value)
    workspace.baton("config", "agent_command", model_server.claude)
    workspace.baton("config", "worker_prompt", "{description}")
    return workspace


def script(steps: List[Dict[str, Any]]) -> str:
    """Steps for the scripted model, to put in a prompt (see tests/src/model_server.rs)."""
    return "<<script>>" + json.dumps(steps) + "<</script>>"


def bash(command: str) -> Dict[str, Any]:
    return {"tool": "Bash", "input": {"command": command, "description": "a scripted step", "timeout": 600000}}


def baton_tool(name: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    return {"tool": f"mcp__baton__{name}", "input": arguments}


def say(text: str) -> Dict[str, Any]:
    return {"text": text}


def python() -> str:
    return sys.executable
