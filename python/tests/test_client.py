"""Every method of the Orchestrator against the real daemon and CLI: what it answers,
what the workspace then holds (read back through the CLI), the mirror, the callbacks
and the errors."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any, List

import pytest

from conftest import Workspace, process_exists, wait_for
from orchestrator import Orchestrator
from orchestrator.exceptions import (
    InvalidInputError,
    OrchestrationError,
    TaskNotFoundError,
)
from orchestrator.models import CoordinationState, Discovery, Task, TaskResult, TaskStatus


def statuses(workspace: Workspace) -> List[Any]:
    return [(task["id"], task["status"]) for task in workspace.tasks()]


def test_the_constructor_applies_its_arguments_to_the_workspaces_configuration(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root), max_workers=5, model="claude-opus-4", task_timeout=300):
        config = workspace.json("config")
    assert (config["max_workers"], config["model"], config["task_timeout"]) == (5, "claude-opus-4", 300)


def test_initialize_add_claim_complete_fail_through_the_daemon(workspace: Workspace) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root)) as orch:
            await orch.initialize("Build user authentication system", master_plan="1. Model\n2. Login")
            first = orch.add_task("Create User model", priority=1, context_files=["src/user.ts"], hints="bcrypt")
            second = orch.add_task("Implement login", priority=2, dependencies=[first.id])
            assert (first.id, second.id) == ("task-001", "task-002")
            assert first.context.files == ["src/user.ts"] and first.context.hints == "bcrypt"
            assert await orch.claim_task("worker-1") is not None
            assert await orch.claim_task("worker-2") is None, "task-002 waits for task-001"
            assert await orch.complete_task(first.id, TaskResult(output="model added", files_created=["src/user.ts"]))
            claimed = await orch.claim_task("worker-2")
            assert claimed is not None and claimed.id == second.id and claimed.claimed_by == "worker-2"
            assert await orch.fail_task(second.id, "the spec is missing")
            status = orch.get_status()
            assert status["goal"] == "Build user authentication system"
            assert status["progress"]["by_status"]["done"] == 1
            assert status["progress"]["by_status"]["failed"] == 1
            assert status["progress"]["percent_complete"] == 100

    asyncio.run(main())
    tasks = {task["id"]: task for task in workspace.tasks()}
    assert tasks["task-001"]["status"] == "done"
    assert tasks["task-001"]["result"]["files_created"] == ["src/user.ts"]
    assert tasks["task-002"]["result"]["error"] == "the spec is missing"
    assert workspace.json("status")["master_plan"] == "1. Model\n2. Login"


def test_edit_task_changes_what_is_given_and_model_none_gives_back_the_workspaces_model(
    workspace: Workspace,
) -> None:
    with Orchestrator(working_directory=str(workspace.root), model="claude-sonnet-4") as orch:
        first = orch.add_task("Create User model", model="claude-opus-4")
        second = orch.add_task("Implement login")
        assert first.model == "claude-opus-4" and second.model is None

        edited = orch.edit_task(second.id, priority=2, dependencies=[first.id], model="claude-opus-4")
        assert (edited.priority, edited.dependencies, edited.model) == (2, [first.id], "claude-opus-4")
        assert edited.description == "Implement login", "what was not given stays"
        kept = orch.edit_task(second.id, hints="use bcrypt")
        assert (kept.model, kept.context.hints) == ("claude-opus-4", "use bcrypt")

        given_back = orch.edit_task(second.id, model=None)
        assert given_back.model is None
        wait_for(lambda: orch.state.tasks[1].model is None, "the mirror to hear of the edit")

    # What the CLI's `--model none` leaves is what `model=None` left.
    workspace.baton("edit", first.id, "--model", "none")
    shown = {task["id"]: task for task in workspace.tasks()}
    assert "model" not in shown[first.id] and "model" not in shown[second.id]
    assert shown[second.id]["priority"] == 2 and shown[second.id]["context"]["hints"] == "use bcrypt"
    assert workspace.json("config")["model"] == "claude-sonnet-4"


def test_edit_task_with_a_blank_model_or_nothing_to_change_is_refused_and_changes_nothing(
    workspace: Workspace,
) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        task = orch.add_task("Create User model", model="claude-opus-4")
        before = workspace.tasks()
        with pytest.raises(InvalidInputError, match="model"):
            orch.edit_task(task.id, model=" ")
        with pytest.raises(InvalidInputError, match="nothing to change"):
            orch.edit_task(task.id)
        with pytest.raises(TaskNotFoundError, match="task-404"):
            orch.edit_task("task-404", model=None)
        assert workspace.tasks() == before


def test_add_tasks_batch_adds_all_with_dependencies_inside_the_batch(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        tasks = orch.add_tasks_batch([
            {"description": "Create User model", "priority": 1},
            {"description": "Create login endpoint", "priority": 2, "dependencies": ["task-001"]},
            {"description": "Write tests", "priority": 3},
        ])
    assert [task.id for task in tasks] == ["task-001", "task-002", "task-003"]
    assert workspace.tasks()[1]["dependencies"] == ["task-001"]


def test_the_state_and_a_saved_file_name_the_workspace_s_directory(workspace: Workspace, tmp_path: Path) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        assert Path(orch.state.working_directory) == workspace.root.resolve()
        orch.save_state(str(tmp_path / "saved.json"))
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert Path(saved["working_directory"]) == workspace.root.resolve()


def test_the_plain_methods_work_inside_a_running_event_loop(workspace: Workspace) -> None:
    async def main() -> str:
        orch = Orchestrator(working_directory=str(workspace.root))
        task = orch.add_task("inside a loop")
        orch.get_status()
        orch.close()
        return task.id

    assert asyncio.run(main()) == "task-001"


def test_state_mirrors_changes_from_the_cli_without_a_request(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        own = orch.add_task("mine")
        assert orch.state.get_task(own.id) is not None, "the client reads its own change at once"
        workspace.baton("add", "from the CLI", "-p", "2")
        wait_for(lambda: orch.state.get_task("task-002") is not None, "the CLI's task in the mirror")
        claimed = workspace.json("claim", "--agent", "me")
        assert claimed["id"] == "task-002", "the CLI's task is the more urgent"
        wait_for(
            lambda: orch.state.get_task("task-002").status == TaskStatus.CLAIMED,  # type: ignore[union-attr]
            "the claim in the mirror",
        )
        workspace.baton("add", "to be deleted")
        wait_for(lambda: orch.state.get_task("task-003") is not None, "the task to delete in the mirror")
        workspace.baton("delete", "task-003")
        wait_for(lambda: orch.state.get_task("task-003") is None, "the deleted task gone from the mirror")
        workspace.baton("init", "a goal set elsewhere")
        wait_for(lambda: orch.state.goal == "a goal set elsewhere", "the goal in the mirror")
        workspace.baton("discover", "passwords are hashed with argon2", "--agent", "me")
        wait_for(lambda: len(orch.state.discoveries) == 1, "the discovery in the mirror")
        assert orch.state.get_progress()["total_tasks"] == len(workspace.tasks())


def test_callbacks_fire_once_each_in_order_for_changes_made_through_the_cli(workspace: Workspace) -> None:
    completed: List[Task] = []
    found: List[Discovery] = []
    with Orchestrator(
        working_directory=str(workspace.root), on_task_complete=completed.append, on_discovery=found.append
    ):
        for name in ("one", "two", "three"):
            workspace.baton("add", name)
        for _ in range(3):
            claimed = workspace.json("claim", "--agent", "cli")
            workspace.baton("complete", claimed["id"], "--output", f"did {claimed['description']}")
        workspace.baton("discover", "first finding", "--agent", "cli", "--tag", "x")
        workspace.baton("discover", "second finding", "--agent", "cli")
        wait_for(lambda: len(completed) == 3 and len(found) == 2, "three completions and two discoveries")
        workspace.baton("add", "a marker after the rest")
        workspace.baton("discover", "a last finding", "--agent", "cli")
        wait_for(lambda: len(found) == 3, "the last discovery")
    assert [task.id for task in completed] == ["task-001", "task-002", "task-003"]
    assert [task.result.output for task in completed if task.result] == ["did one", "did two", "did three"]
    assert all(task.status is TaskStatus.DONE for task in completed)
    assert [d.content for d in found] == ["first finding", "second finding", "a last finding"]
    assert found[0].tags == ["x"]


def test_a_callback_that_raises_is_logged_and_the_client_goes_on(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    seen: List[str] = []

    def fragile(task: Task) -> None:
        seen.append(task.id)
        if task.id == "task-001":
            raise RuntimeError("the callback broke")

    with caplog.at_level(logging.ERROR, logger="orchestrator"):
        with Orchestrator(working_directory=str(workspace.root), on_task_complete=fragile) as orch:
            for name in ("one", "two"):
                orch.add_task(name)
            for _ in range(2):
                claimed = workspace.json("claim", "--agent", "cli")
                workspace.baton("complete", claimed["id"], "--output", "ok")
            wait_for(lambda: seen == ["task-001", "task-002"], "both callbacks")
            assert orch.get_status()["progress"]["by_status"]["done"] == 2
    assert "the callback broke" in caplog.text
    assert "on_task_complete callback raised" in caplog.text


def test_two_orchestrators_on_one_workspace_see_each_others_changes(workspace: Workspace) -> None:
    async def main() -> None:
        first = Orchestrator(working_directory=str(workspace.root))
        second = Orchestrator(working_directory=str(workspace.root))
        completed: List[str] = []
        second.on_task_complete = lambda task: completed.append(task.id)
        task = first.add_task("shared work")
        wait_for(lambda: second.state.get_task(task.id) is not None, "the first's task in the second")
        claimed = await second.claim_task("worker-b")
        assert claimed is not None and claimed.id == task.id
        wait_for(
            lambda: first.state.get_task(task.id).claimed_by == "worker-b",  # type: ignore[union-attr]
            "the second's claim in the first",
        )
        await first.complete_task(task.id, TaskResult(output="done by the first"))
        wait_for(lambda: completed == [task.id], "the second's callback for the first's completion")
        assert second.get_status()["progress"]["by_status"]["done"] == 1
        first.close()
        second.close()

    asyncio.run(main())


def test_save_state_and_load_state_round_trip_with_baton_save_and_load(workspace: Workspace, tmp_path: Path) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root)) as orch:
            await orch.initialize("round trip")
            orch.add_task("kept", priority=2, hints="h")
            saved = tmp_path / "from-python.json"
            orch.save_state(str(saved))
            state = json.loads(saved.read_text())
            assert [task["description"] for task in state["tasks"]] == ["kept"]

            workspace.baton("add", "added later")
            workspace.baton("load", str(saved))
            assert [task["description"] for task in workspace.tasks()] == ["kept"]

            workspace.baton("add", "from the CLI")
            from_cli = tmp_path / "from-cli.json"
            workspace.baton("save", str(from_cli))
            workspace.baton("init", "something else")
            orch.load_state(str(from_cli))
            assert orch.state.goal == "round trip"
            assert [task.description for task in orch.state.tasks] == ["kept", "from the CLI"]
            assert [task["description"] for task in workspace.tasks()] == ["kept", "from the CLI"]

    asyncio.run(main())


def test_a_relative_state_path_is_taken_from_the_current_directory(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        orch.add_task("saved")
        orch.save_state("checkpoint.json")
        assert (elsewhere / "checkpoint.json").exists()
        orch.load_state("checkpoint.json")


def test_bad_input_raises_the_references_exception_and_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root)) as orch:
            await orch.initialize("careful")
            orch.add_task("exists")
            before = workspace.tasks()

            with pytest.raises(InvalidInputError, match="priority 11 is outside 1..10") as out_of_range:
                orch.add_task("too urgent", priority=11)
            assert out_of_range.value.kind == "InvalidInputError"
            assert isinstance(out_of_range.value, OrchestrationError)

            with pytest.raises(InvalidInputError, match="task-404") as unknown_dependency:
                orch.add_task("waits for nothing", dependencies=["task-404"])
            assert "task-404" in str(unknown_dependency.value)

            with pytest.raises(InvalidInputError, match="task-404"):
                orch.add_tasks_batch([{"description": "fine"}, {"description": "bad", "dependencies": ["task-404"]}])

            with pytest.raises(TaskNotFoundError, match="task-404 not found") as unknown:
                await orch.complete_task("task-404", TaskResult(output="x"))
            assert unknown.value.kind == "TaskNotFoundError"
            with pytest.raises(TaskNotFoundError):
                await orch.fail_task("task-404", "x")

            with pytest.raises(OrchestrationError, match="never claimed") as unclaimed:
                await orch.complete_task("task-001", TaskResult(output="x"))
            assert type(unclaimed.value) is OrchestrationError and unclaimed.value.kind == "OrchestrationError"

            malformed = tmp_path / "malformed.json"
            malformed.write_text('{"goal": "half a file", "tasks": [')
            with pytest.raises(InvalidInputError, match="malformed.json") as bad_file:
                orch.load_state(str(malformed))
            assert "state" in str(bad_file.value)

            assert workspace.tasks() == before
            assert workspace.json("status")["goal"] == "careful"
            assert [task.id for task in orch.state.tasks] == ["task-001"]

    asyncio.run(main())


def test_a_leader_run_without_a_goal_says_so(workspace: Workspace) -> None:
    async def main() -> None:
        with Orchestrator(working_directory=str(workspace.root)) as orch:
            with pytest.raises(InvalidInputError, match="goal") as no_goal:
                await orch.run_with_leader_planning()
            assert no_goal.value.cause == "no_goal"

    asyncio.run(main())


def test_arguments_of_the_wrong_type_are_refused_and_change_nothing(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        with pytest.raises(InvalidInputError, match="^dependencies: .*expected a list"):
            orch.add_task("x", dependencies="task-001")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match=r"^tasks\[1\]\.priority: .*expected a whole number"):
            orch.add_tasks_batch([{"description": "a"}, {"description": "b", "priority": -1}])
        with pytest.raises(InvalidInputError, match="cannot be sent as JSON"):
            orch.add_tasks_batch([{"description": object()}])
    assert workspace.tasks() == []


def test_an_unknown_key_in_a_batch_is_refused_with_what_to_use(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        with pytest.raises(InvalidInputError, match="unknown field `prio`"):
            orch.add_tasks_batch([{"description": "x", "prio": 1}])
    assert workspace.tasks() == []


def test_a_missing_cli_is_an_orchestration_error_saying_what_to_do(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BATON_CLI", str(tmp_path / "no-baton-here"))
    with pytest.raises(OrchestrationError, match="could not run the baton CLI .*check BATON_CLI"):
        Orchestrator(working_directory=str(workspace.root))


def test_a_daemon_that_cannot_start_is_an_orchestration_error_saying_why(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BATON_DAEMON", "/bin/false")
    with pytest.raises(OrchestrationError, match="could not start the baton daemon") as failed:
        Orchestrator(working_directory=str(workspace.root))
    assert str(workspace.root) in str(failed.value)


def test_a_working_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OrchestrationError, match="could not start the baton daemon"):
        Orchestrator(working_directory=str(tmp_path / "nowhere"))


def test_the_client_reconnects_after_the_daemon_restarts(workspace: Workspace) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        orch.add_task("before")
        assert orch.daemon is not None
        stopped = orch.daemon.pid
        workspace.baton("daemon", "stop")
        wait_for(lambda: not process_exists(stopped), "the stopped daemon's exit")
        assert orch.add_task("after").id == "task-002"


def test_a_script_that_only_listens_hears_every_completion_across_a_daemon_crash(workspace: Workspace) -> None:
    completed: List[str] = []
    with Orchestrator(working_directory=str(workspace.root), verbose=False) as orch:
        orch.on_task_complete = lambda task: completed.append(task.id)
        for description in ("one", "two", "three"):
            workspace.baton("add", description)
        workspace.baton("claim", "--agent", "cli")
        workspace.baton("complete", "task-001", "--output", "ok")
        wait_for(lambda: completed == ["task-001"], "the first completion")
        assert orch.daemon is not None
        crashed = orch.daemon.pid
        os.kill(crashed, signal.SIGKILL)
        wait_for(lambda: not process_exists(crashed), "the killed daemon's end")
        # The CLI brings a daemon back and finishes a task, whoever of the two comes first.
        workspace.baton("claim", "--agent", "cli")
        workspace.baton("complete", "task-002", "--output", "ok")
        wait_for(lambda: completed == ["task-001", "task-002"], "the completion made across the crash")
        workspace.baton("claim", "--agent", "cli")
        workspace.baton("complete", "task-003", "--output", "ok")
        wait_for(lambda: completed == ["task-001", "task-002", "task-003"], "a completion after it")
        assert orch.state.get_task("task-003") is not None


def test_verbose_by_default_as_the_reference_and_quiet_when_asked(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with Orchestrator(working_directory=str(workspace.root), verbose=False) as orch:
        orch.add_task("quiet")
    assert capsys.readouterr().err == ""
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        orch.add_task("loud", priority=2)
        wait_for(lambda: orch.state.get_task("task-002") is not None, "the task in the mirror")
        workspace.baton("discover", "seen", "--agent", "cli")
        wait_for(lambda: len(orch.state.discoveries) == 1, "the discovery")
    err = capsys.readouterr().err
    assert "created task-002 [p2] loud" in err
    assert "discovery by cli: seen" in err


def test_a_callback_may_call_the_orchestrator_and_event_loops_may_come_and_go(workspace: Workspace) -> None:
    totals: List[int] = []
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        orch.on_task_complete = lambda task: totals.append(orch.get_status()["progress"]["total_tasks"])
        orch.add_task("one")
        orch.add_task("two")

        async def finish_one() -> None:
            claimed = await orch.claim_task("me")
            assert claimed is not None
            await orch.complete_task(claimed.id, TaskResult(output="ok"))

        asyncio.run(finish_one())
        asyncio.run(finish_one())
        wait_for(lambda: len(totals) == 2, "both callbacks, each asking for the status")
    assert totals == [2, 2]


def test_get_available_tasks_orders_as_the_daemon_hands_tasks_out(workspace: Workspace, tmp_path: Path) -> None:
    # Priority first, then the longest chain of tasks waiting on a task, then age.
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        a = orch.add_task("a", priority=5)
        b = orch.add_task("b", priority=5)
        c = orch.add_task("c", priority=5, dependencies=[b.id])
        orch.add_task("d", priority=5, dependencies=[c.id])
        orch.add_task("e", priority=2)
        orch.add_task("f", priority=5, dependencies=[a.id])
        orch.add_task("g", priority=7)
        saved = tmp_path / "state.json"
        order = []
        while True:
            orch.save_state(str(saved))
            state = CoordinationState.from_dict(json.loads(saved.read_text()))
            expected = [task.id for task in state.get_available_tasks()]
            claimed = asyncio.run(orch.claim_task("agent-1"))
            if claimed is None:
                assert expected == []
                break
            assert expected and claimed.id == expected[0], (claimed.id, expected)
            order.append(claimed.id)
            asyncio.run(orch.complete_task(claimed.id, TaskResult(output="")))
    assert order == ["task-005", "task-002", "task-001", "task-003", "task-004", "task-006", "task-007"]


def test_get_available_tasks_counts_no_failed_task_as_work_waiting(workspace: Workspace, tmp_path: Path) -> None:
    with Orchestrator(working_directory=str(workspace.root)) as orch:
        older = orch.add_task("older")
        newer = orch.add_task("newer")
        child = orch.add_task("child", dependencies=[newer.id])
        orch.add_task("grandchild", dependencies=[child.id])
        orch.add_task("the older one's child", dependencies=[older.id])
        asyncio.run(orch.fail_task(child.id, "gave up"))
        saved = tmp_path / "state.json"
        orch.save_state(str(saved))
        state = CoordinationState.from_dict(json.loads(saved.read_text()))
        assert [task.id for task in state.get_available_tasks()] == [older.id, newer.id]
        claimed = asyncio.run(orch.claim_task("agent-1"))
        assert claimed is not None and claimed.id == older.id
