"""What a client's settings and misuse do to the workspace: a client leaves the
settings it was not given as they are, and a call the client cannot make raises one of
the package's errors, saying what to pass, and changes nothing."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any, Callable

import pytest

from conftest import Workspace
from orchestrator import Orchestrator
from orchestrator.exceptions import InvalidInputError, OrchestrationError
from orchestrator.models import TaskResult


def test_a_client_given_no_settings_keeps_the_workspaces(workspace: Workspace) -> None:
    workspace.baton("init", "a goal", "--max-workers", "8", "--task-timeout", "1800", "--model", "claude-opus-4")
    with Orchestrator(working_directory=str(workspace.root)) as watcher:
        assert (watcher.max_workers, watcher.task_timeout, watcher.model) == (8, 1800, "claude-opus-4")
    config = workspace.json("config")
    assert (config["max_workers"], config["task_timeout"], config["model"]) == (8, 1800, "claude-opus-4")

    with Orchestrator(working_directory=str(workspace.root), max_workers=2) as orch:
        assert (orch.max_workers, orch.task_timeout) == (2, 1800)
        asyncio.run(orch.initialize("another goal"))
    config = workspace.json("config")
    assert (config["max_workers"], config["task_timeout"], config["model"]) == (2, 1800, "claude-opus-4")


def test_a_new_workspace_has_the_references_defaults(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        assert (orch.max_workers, orch.task_timeout, orch.model) == (3, 600, "claude-sonnet-4-20250514")


def test_calls_after_close_raise_orchestration_error(workspace: Workspace) -> None:
    orch = Orchestrator(working_directory=str(workspace.root))
    orch.close()
    calls: list[Callable[[], Any]] = [
        lambda: orch.add_task("after close"),
        orch.get_status,
        lambda: asyncio.run(orch.claim_task("agent-1")),
        lambda: asyncio.run(orch.start()),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for call in calls:
            with pytest.raises(OrchestrationError, match="closed"):
                call()
        gc.collect()
    assert not [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert workspace.tasks() == []


def test_misuse_raises_invalid_input_error_and_changes_nothing(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        task = orch.add_task("the one task")
        asyncio.run(orch.claim_task("agent-1"))
        misuses: list[Callable[[], Any]] = [
            lambda: orch.add_tasks_batch(None),  # type: ignore[arg-type]
            lambda: orch.add_tasks_batch(["x"]),  # type: ignore[list-item]
            lambda: orch.save_state(None),  # type: ignore[arg-type]
            lambda: orch.load_state(None),  # type: ignore[arg-type]
            lambda: asyncio.run(orch.complete_task(task.id, None)),  # type: ignore[arg-type]
            lambda: asyncio.run(orch.complete_task(task.id, "done")),  # type: ignore[arg-type]
            # A string where a list goes is no list of its characters.
            lambda: asyncio.run(orch.complete_task(task.id, TaskResult("x", discoveries="abc"))),  # type: ignore[arg-type]
            lambda: asyncio.run(orch.complete_task(task.id, TaskResult("x", files_modified="src/main.py"))),  # type: ignore[arg-type]
            # Not JSON: once sent, the daemon's answer had no id and the call waited for ever.
            lambda: orch.add_task("x", priority=float("nan")),  # type: ignore[arg-type]
            lambda: orch.add_tasks_batch([{"description": "x", "priority": float("inf")}]),
        ]
        for misuse in misuses:
            with pytest.raises(InvalidInputError):
                misuse()
        assert [t["status"] for t in workspace.tasks()] == ["claimed"]

        # A result given as the dict of a TaskResult's fields is one.
        asyncio.run(orch.complete_task(task.id, {"output": "made it", "files_modified": ["a.py"]}))  # type: ignore[arg-type]
        done = workspace.tasks()[0]
        assert (done["status"], done["result"]["output"], done["result"]["files_modified"]) == (
            "done",
            "made it",
            ["a.py"],
        )
        assert TaskResult.from_dict(done["result"]).output == "made it"


def test_a_request_larger_than_the_daemon_reads_says_so_and_the_next_call_works(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(OrchestrationError, match="more than the 64 MiB"):
                orch.add_task("x" * (65 * 1024 * 1024))
            gc.collect()
        assert not [str(w.message) for w in caught if "never retrieved" in str(w.message)]
        assert orch.add_task("a task of a usual size").id == "task-001"
