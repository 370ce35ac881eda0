"""The client holds no rule of its own: each of its methods is one request to the
daemon, and every refusal it raises is the daemon's answer, read from the JSON-RPC
error. A rule written in Python (a priority range, a status check, a dependency
check) would refuse without a request, and these tests would see it."""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import orchestrator as package
from conftest import Workspace
from orchestrator import Orchestrator
from orchestrator.connection import Connection
from orchestrator.exceptions import OrchestrationError
from orchestrator.models import TaskResult

Sent = List[Tuple[str, Any]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every request the client sends on its connection, in order, but the handshake."""
    requests: Sent = []
    request = Connection.request

    async def recording(self: Connection, method: str, params: Optional[Any] = None) -> Any:
        if method != "initialize":
            requests.append((method, params))
        return await request(self, method, params)

    monkeypatch.setattr(Connection, "request", recording)
    return requests


def acting(orch: Orchestrator, requests: Sent) -> List[str]:
    """The methods of `requests` but the mirror's own fetches of the state (a
    `baton/saveState` into the client's private directory)."""
    mirror = orch._snapshot_dir
    return [
        method
        for method, params in requests
        if not (method == "baton/saveState" and str(params["path"]).startswith(mirror))
    ]


def public_methods() -> List[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(Orchestrator)
        if not name.startswith("_") and callable(member) and not isinstance(member, property)
    )


def test_each_method_of_the_client_is_one_request_to_the_daemon(
    workspace: Workspace, sent: Sent, tmp_path: Path
) -> None:
    saved = str(tmp_path / "state.json")
    # In this order: the runs and `start` come while no task waits, so that no agent
    # starts; the daemon refuses both runs then, and the request is still the one
    # the method sends.
    calls: Dict[str, Tuple[str, Callable[[Orchestrator], Any]]] = {
        "run_with_leader_planning": ("baton/run", lambda orch: asyncio.run(orch.run_with_leader_planning())),
        "run_with_predefined_tasks": ("baton/run", lambda orch: asyncio.run(orch.run_with_predefined_tasks())),
        "start": ("baton/run", lambda orch: asyncio.run(orch.start())),
        "stop": ("baton/stop", lambda orch: asyncio.run(orch.stop())),
        "initialize": ("baton/init", lambda orch: asyncio.run(orch.initialize("a goal"))),
        "add_task": ("baton/addTask", lambda orch: orch.add_task("first")),
        "add_tasks_batch": ("baton/addTasks", lambda orch: orch.add_tasks_batch([{"description": "second"}])),
        "edit_task": ("baton/editTask", lambda orch: orch.edit_task("task-002", priority=3, model="claude-opus-4")),
        "claim_task": ("baton/claimTask", lambda orch: asyncio.run(orch.claim_task("worker-1"))),
        "complete_task": (
            "baton/completeTask",
            lambda orch: asyncio.run(orch.complete_task("task-001", TaskResult(output="done"))),
        ),
        "fail_task": ("baton/failTask", lambda orch: asyncio.run(orch.fail_task("task-002", "no"))),
        "get_status": ("baton/status", lambda orch: orch.get_status()),
        "save_state": ("baton/saveState", lambda orch: orch.save_state(saved)),
        "load_state": ("baton/loadState", lambda orch: orch.load_state(saved)),
    }
    sends_nothing = {"close"}
    assert sorted([*calls, *sends_nothing]) == public_methods(), (
        "a public method of Orchestrator has no case here: say which request it sends"
    )

    orch = Orchestrator(working_directory=str(workspace.root))
    try:
        assert acting(orch, sent) == [], "a constructor given no settings changes none"
        for name, (method, call) in calls.items():
            sent.clear()
            try:
                call(orch)
            except OrchestrationError as err:
                assert err.code is not None, f"{name} raised {err!r} without the daemon's answer"
            assert acting(orch, sent) == [method], f"{name} sends {method} and nothing else"
    finally:
        sent.clear()
        orch.close()
    assert sent == [], "close sends nothing"


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("a priority below 1", lambda orch: orch.add_task("x", priority=0)),
        ("a priority above 10", lambda orch: orch.add_task("x", priority=11)),
        ("an empty description", lambda orch: orch.add_task("")),
        ("an unknown dependency", lambda orch: orch.add_task("x", dependencies=["task-999"])),
        (
            "a dependency cycle in a batch",
            lambda orch: orch.add_tasks_batch(
                [
                    {"id": "a", "description": "a", "dependencies": ["b"]},
                    {"id": "b", "description": "b", "dependencies": ["a"]},
                ]
            ),
        ),
        ("editing an unknown task", lambda orch: orch.edit_task("task-404", hints="x")),
        ("editing a priority to 0", lambda orch: orch.edit_task("task-001", priority=0)),
        ("completing an unknown task", lambda orch: asyncio.run(orch.complete_task("task-404", TaskResult(output="")))),
        ("completing a task nobody claimed", lambda orch: asyncio.run(orch.complete_task("task-001", TaskResult(output="")))),
        ("failing an unknown task", lambda orch: asyncio.run(orch.fail_task("task-404", "why"))),
        ("claiming with no agent id", lambda orch: asyncio.run(orch.claim_task(""))),
        ("loading a file that does not exist", lambda orch: orch.load_state("/nonexistent/state.json")),
    ],
)
def test_every_refusal_is_the_daemons_answer(
    workspace: Workspace, sent: Sent, what: str, call: Callable[[Orchestrator], Any]
) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        orch.add_task("a task to act on")
        sent.clear()
        with pytest.raises(OrchestrationError) as raised:
            call(orch)
        assert len(acting(orch, sent)) == 1, f"{what}: the client asked the daemon once"
        assert raised.value.code is not None, f"{what}: refused without the daemon's answer: {raised.value!r}"
    assert [task["id"] for task in workspace.tasks()] == ["task-001"], f"{what} changed nothing"


def test_no_refusal_of_input_is_written_in_the_client() -> None:
    """The client's source makes the exceptions that refuse input only from the daemon's
    error (`exceptions.from_wire`), but for arguments Python cannot put into JSON at
    all, which never reach a daemon."""
    refusals = {"InvalidInputError", "TaskNotFoundError", "AgentNotFoundError"}
    allowed = {("connection.py", "the arguments cannot be sent as JSON")}
    found = []
    source = Path(os.path.dirname(package.__file__))
    for path in sorted(source.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            name = node.exc.func.id if isinstance(node.exc.func, ast.Name) else ""
            if name not in refusals:
                continue
            text = ast.unparse(node.exc)
            if not any(path.name == file and words in text for file, words in allowed):
                found.append(f"{path.name}:{node.lineno}: {text}")
    assert found == [], "input refused in Python, not by the daemon:\n" + "\n".join(found)
