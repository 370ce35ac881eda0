"""What a script relies on over an Orchestrator's life: it may end without `close()`
as the reference's examples do, a callback may end its thread's work however it
raises, the workspace it named stays the one it talks to, and its settings follow the
workspace's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from conftest import Workspace, wait_for
from orchestrator import Orchestrator
from orchestrator.models import Task

SOURCE = Path(__file__).resolve().parents[1] / "src"


def test_a_script_that_never_closes_its_orchestrator_ends_quietly(workspace: Workspace) -> None:
    script = textwrap.dedent(
        f"""
        from orchestrator import Orchestrator
        orch = Orchestrator(working_directory={str(workspace.root)!r})
        orch.add_task("left for later")
        """
    )
    env = dict(os.environ, PYTHONPATH=str(SOURCE))
    ended = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert ended.returncode == 0, ended.stderr
    assert "crashed" not in ended.stderr
    assert "Traceback" not in ended.stderr
    assert "exception" not in ended.stderr.lower()
    assert [task["description"] for task in workspace.tasks()] == ["left for later"]


def test_a_quiet_script_says_nothing_of_a_daemon_it_connects_to_again(workspace: Workspace) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from orchestrator import Orchestrator
        orch = Orchestrator(working_directory={str(workspace.root)!r}, verbose=False)
        os.kill(orch.daemon.pid, signal.SIGKILL)
        time.sleep(2)
        orch.add_task("after the crash")
        orch.close()
        """
    )
    env = dict(os.environ, PYTHONPATH=str(SOURCE))
    ended = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert ended.returncode == 0, ended.stderr
    assert ended.stderr == ""
    assert [task["description"] for task in workspace.tasks()] == ["after the crash"]


@pytest.mark.parametrize("raised", [SystemExit("enough"), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_callback_that_exits_is_logged_and_the_later_callbacks_still_run(
    workspace: Workspace, raised: BaseException
) -> None:
    seen: List[str] = []

    def leaving(task: Task) -> None:
        seen.append(task.id)
        if task.id == "task-001":
            raise raised

    with Orchestrator(working_directory=str(workspace.root), on_task_complete=leaving, verbose=False) as orch:
        orch.add_tasks_batch([{"description": "one"}, {"description": "two"}])
        for _ in range(2):
            claimed = workspace.json("claim", "--agent", "cli")
            workspace.baton("complete", claimed["id"], "--output", "ok")
        wait_for(lambda: seen == ["task-001", "task-002"], "the callback after the one that exited")


def test_a_relative_working_directory_stays_the_workspace_it_named_when_the_daemon_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for place in (first, second):
        (place / "project").mkdir(parents=True)
    named = Workspace((first / "project").resolve())
    other = Workspace((second / "project").resolve())
    try:
        monkeypatch.chdir(first)
        with Orchestrator(working_directory="./project", verbose=False) as orch:
            orch.add_task("in the first")
            monkeypatch.chdir(second)
            named.baton("daemon", "stop")
            orch.add_task("also meant for the first")
            assert [task.description for task in orch.state.tasks] == ["in the first", "also meant for the first"]
        assert [task["description"] for task in named.tasks()] == ["in the first", "also meant for the first"]
        assert not (second / "project" / ".baton").exists()
    finally:
        for place in (named, other):
            place.baton("daemon", "stop", check=False)


def test_after_load_state_the_settings_are_the_loaded_workspaces(workspace: Workspace, tmp_path: Path) -> None:
    saved = tmp_path / "saved.json"
    workspace.baton("config", "max_workers", "7")
    workspace.baton("config", "task_timeout", "120")
    workspace.baton("save", str(saved))
    workspace.baton("config", "max_workers", "2")
    workspace.baton("config", "task_timeout", "900")
    with Orchestrator(working_directory=str(workspace.root), verbose=False) as orch:
        assert (orch.max_workers, orch.task_timeout) == (2, 900)
        orch.load_state(str(saved))
        assert (orch.max_workers, orch.task_timeout) == (7, 120)
        asyncio.run(orch.initialize("after the load"))
    config = workspace.json("config")
    assert (config["max_workers"], config["task_timeout"]) == (7, 120)


def test_running_the_predefined_tasks_when_every_task_has_finished_answers_an_empty_result(
    workspace: Workspace,
) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root), verbose=False) as orch:
            await orch.initialize("all done already")
            orch.add_task("done by hand")
            claimed = await orch.claim_task("me")
            assert claimed is not None
            await orch.complete_task(claimed.id, {"output": "done"})
            result = await orch.run_with_predefined_tasks()
            assert result["goal"] == "all done already"
            assert (result["tasks_completed"], result["tasks_failed"], result["discoveries"]) == (0, 0, 0)
            assert "nothing to run" in result["summary"]

    asyncio.run(main())
