"""The reference's examples and both run modes, with real Claude Code agents against
the scripted model server: the examples run as the reference wrote them, only the
workspace's path is theirs."""

from __future__ import annotations

import asyncio
import json
import runpy
import subprocess
import threading
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import ModelServer, Workspace, baton_tool, bash, say, script, wait_for
from orchestrator import Orchestrator
from orchestrator.models import Discovery, Task, TaskStatus

EXAMPLES = Path(__file__).parent / "examples"


def test_the_complete_example_runs_as_written(agents: Workspace, tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / "my-project").symlink_to(agents.root)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "complete_example.py")],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Goal: Build user authentication system" in done.stdout
    assert "Tasks completed: 3" in done.stdout
    assert "Tasks failed: 0" in done.stdout
    assert "Summary:" in done.stdout
    for task in ("task-001", "task-002", "task-003"):
        assert f"completed {task}" in done.stderr, "verbose prints each task's end"
    saved = json.loads((here / "orchestration-state.json").read_text())
    assert saved["goal"] == "Build user authentication system"
    assert [task["status"] for task in saved["tasks"]] == ["done", "done", "done"]
    assert saved["tasks"][1]["context"]["hints"] == "Use bcrypt for password hashing"
    assert saved["tasks"][2]["dependencies"] == ["task-001", "task-002"]


def run_example(name: str) -> Orchestrator:
    orch = runpy.run_path(str(EXAMPLES / name))["orch"]
    assert isinstance(orch, Orchestrator)
    return orch


def test_the_task_completion_callback_example_fires_for_a_run_from_the_cli(
    agents: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(agents.root)
    orch = run_example("task_completion_callback.py")
    try:
        steps = [bash("echo hello > greeting.txt"), say("wrote the greeting")]
        agents.baton("add", "write a greeting\n" + script(steps))
        agents.baton("run", "--predefined")
        out = printed_until(capsys, "  Files modified:")
        assert "Task task-001 completed!" in out
        assert "  Output: wrote the greeting..." in out
    finally:
        orch.close()


def printed_until(capsys: pytest.CaptureFixture[str], text: str) -> str:
    """What was printed once `text` is among it (callbacks print from their own thread)."""
    printed: List[str] = []

    def seen() -> bool:
        printed.append(capsys.readouterr().out)
        return text in "".join(printed)

    wait_for(seen, f"{text!r} to be printed")
    return "".join(printed)


def test_the_discovery_callback_example_fires_for_an_agents_discovery(
    agents: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(agents.root)
    orch = run_example("discovery_callback.py")
    try:
        steps = [
            baton_tool("report_discovery", {"content": "sessions live in redis", "tags": ["auth"]}),
            say("shared it"),
        ]
        agents.baton("add", "look around\n" + script(steps))
        agents.baton("run", "--predefined")
        out = printed_until(capsys, "Tags: ['auth']")
        assert "Discovery by worker-" in out
        assert "  sessions live in redis" in out
    finally:
        orch.close()


def test_run_with_leader_planning_plans_runs_and_reports_to_the_callbacks(agents: Workspace) -> None:
    make = script([bash("echo made > made.txt"), baton_tool("report_discovery", {"content": "made.txt exists"}),
                   say("made it")])
    check = script([bash("test -f made.txt && echo checked > checked.txt"), say("checked it")])
    plan = [
        baton_tool("set_master_plan", {"plan": "make it, then check it"}),
        baton_tool("add_task", {"description": f"make the file\n{make}", "priority": 1}),
        baton_tool("add_task", {"description": f"check the file\n{check}", "priority": 2,
                                "dependencies": ["{{1.id}}"]}),
        say("two tasks: make, then check"),
    ]
    completed: List[Task] = []
    found: List[Discovery] = []

    async def main() -> Dict[str, Any]:
        with Orchestrator(working_directory=str(agents.root), max_workers=2, task_timeout=120,
                          on_task_complete=completed.append, on_discovery=found.append) as orch:
            await orch.initialize("make and check a file\n" + script(plan))
            result = await orch.run_with_leader_planning()
            wait_for(lambda: len(completed) == 2, "both completions")
            assert orch.state.master_plan == "make it, then check it"
            assert [task.status for task in orch.state.tasks] == [TaskStatus.DONE, TaskStatus.DONE]
            return result

    result = asyncio.run(main())
    assert (result["tasks_completed"], result["tasks_failed"], result["discoveries"]) == (2, 0, 1)
    assert result["goal"].startswith("make and check a file")
    assert isinstance(result["summary"], str) and result["summary"]
    assert [task.result.output for task in completed if task.result] == ["made it", "checked it"]
    assert [d.content for d in found] == ["made.txt exists"]
    assert (agents.root / "checked.txt").exists()


def test_start_dispatches_and_stop_puts_the_work_back(agents: Workspace) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(agents.root), task_timeout=120) as orch:
            task = orch.add_task("wait a while\n" + script([bash("echo $$ > shell.pid; sleep 600"), say("unreachable")]))
            await orch.start()
            wait_for(lambda: orch.state.tasks[0].status is TaskStatus.IN_PROGRESS, "the agent at work", 60)
            assert agents.json("status")["running"] is True
            await orch.stop()
            status = agents.json("status")
            assert status["running"] is False
            assert agents.tasks()[0]["status"] == "available", "the stopped agent's task is back in the queue"
            wait_for(lambda: orch.state.get_task(task.id).status is TaskStatus.AVAILABLE,  # type: ignore[union-attr]
                     "the mirror to see it back")

    asyncio.run(main())


def test_a_task_past_task_timeout_fails_with_a_timeout_error_in_its_result(agents: Workspace) -> None:
    async def main() -> Dict[str, Any]:
        with Orchestrator(working_directory=str(agents.root), task_timeout=3) as orch:
            orch.add_task("take too long\n" + script([bash("echo $$ > shell.pid; sleep 600"), say("unreachable")]))
            return await orch.run_with_predefined_tasks()

    result = asyncio.run(main())
    assert (result["tasks_completed"], result["tasks_failed"]) == (0, 1)
    error = agents.tasks()[0]["result"]["error"]
    assert error.startswith("TimeoutError:"), error


def model_address_learned_late(
    workspace: Workspace, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code against the scripted model, with the daemon started while this
    process still names a model address where nothing answers: only the variables a
    client sends with its run reach the agents."""
    for name, value in model_server.env.items():
        monkeypatch.setenv(name, value)
    # The daemon starts with a model address where nothing answers ...
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    workspace.baton("config", "agent_command", model_server.claude)
    workspace.baton("config", "worker_prompt", "{description}")
    # ... and the script learns the right one afterwards.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)


def test_a_run_gives_its_agents_the_model_variables_of_this_process(
    workspace: Workspace, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_address_learned_late(workspace, model_server, monkeypatch)

    async def main() -> Dict[str, Any]:
        with Orchestrator(working_directory=str(workspace.root), task_timeout=60) as orch:
            orch.add_task("answer\n" + script([say("reached the model")]))
            return await orch.run_with_predefined_tasks()

    result = asyncio.run(main())
    assert (result["tasks_completed"], result["tasks_failed"]) == (1, 0), workspace.tasks()
    assert workspace.tasks()[0]["result"]["output"] == "reached the model"


def test_start_gives_its_agents_the_model_variables_of_this_process(
    workspace: Workspace, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_address_learned_late(workspace, model_server, monkeypatch)

    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root), task_timeout=60) as orch:
            orch.add_task("answer\n" + script([say("reached the model")]))
            await orch.start()
            await orch.start()  # a run is going: nothing changes
            wait_for(lambda: workspace.tasks()[0]["status"] in ("done", "failed"), "the task to end", 60)

    asyncio.run(main())
    task = workspace.tasks()[0]
    assert task["status"] == "done", task
    assert task["result"]["output"] == "reached the model"


def test_a_run_awaited_when_close_runs_raises_orchestration_error(agents: Workspace) -> None:
    from orchestrator.exceptions import OrchestrationError

    async def main() -> str:
        orch = Orchestrator(working_directory=str(agents.root), task_timeout=120)
        # The model holds its answer back: the run is still going when close() runs.
        orch.add_task("wait a while\n" + script([{"text": "unreachable", "delay_ms": 60000}]))
        closing = threading.Timer(1.5, orch.close)
        closing.start()
        try:
            await orch.run_with_predefined_tasks()
        except OrchestrationError as err:
            return str(err)
        finally:
            closing.join()
            agents.baton("stop", check=False)
        return "the run returned"

    said = asyncio.run(main())
    assert said.startswith("this Orchestrator was closed while the call waited"), said
