"""The reference's shorter examples, each as it is written there, in the order it
gives them, on one workspace with real Claude Code agents. Where an example names a
task that must exist first (`task-001`, which `task-1` names too), a state file loaded
with `baton load` provides it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import Workspace
from orchestrator import Orchestrator
from orchestrator.exceptions import OrchestrationError, TimeoutError


def with_tasks_the_examples_name(workspace: Workspace, folder: Path) -> None:
    """Loads the workspace's state plus `task-001`, which the examples depend on."""
    saved = folder / "before.json"
    workspace.baton("save", str(saved))
    state = json.loads(saved.read_text())
    state["tasks"].append({
        "id": "task-001", "description": "Design the schema", "status": "available", "priority": 1,
        "created_at": "2026-12-01T10:00:00Z",
    })
    saved.write_text(json.dumps(state))
    workspace.baton("load", str(saved))


def test_the_references_examples_run_as_written(
    agents: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / "my-project").symlink_to(agents.root)
    monkeypatch.chdir(here)

    async def main() -> None:
        orch = Orchestrator(
            working_directory="./my-project",
            max_workers=5,
            model="claude-sonnet-4-20250514",
            task_timeout=300,
            on_task_complete=lambda t: print(f"Completed: {t.id}"),
            verbose=True,
        )

        await orch.initialize(
            goal="Build user authentication system",
            master_plan="1. Design schema\n2. Implement endpoints\n3. Add tests"
        )

        with_tasks_the_examples_name(agents, tmp_path)

        task = orch.add_task(
            description="Implement user login endpoint",
            priority=1,
            dependencies=["task-001"],
            context_files=["src/auth/login.ts"],
            hints="Use JWT for tokens"
        )
        print(f"Created: {task.id}")

        tasks = orch.add_tasks_batch([
            {"description": "Create User model", "priority": 1},
            {"description": "Create login endpoint", "priority": 2, "dependencies": ["task-1"]},
            {"description": "Write tests", "priority": 3},
        ])

        orch.add_task("Task 1", priority=1)
        orch.add_task("Task 2", priority=2)
        result = await orch.run_with_predefined_tasks()

        # Save checkpoint
        orch.save_state("checkpoint.json")

        # Later: restore
        orch.load_state("checkpoint.json")

        result = await orch.run_with_leader_planning()
        print(f"Completed {result['tasks_completed']} tasks")
        print(f"Summary: {result['summary']}")

        try:
            result = await orch.run_with_leader_planning()
        except TimeoutError as e:
            print(f"Task timed out: {e}")
        except OrchestrationError as e:
            print(f"Orchestration failed: {e}")

        assert len(tasks) == 3
        assert tasks[1].dependencies == ["task-001"], "`task-1` is the reference's spelling of task-001"
        found = orch.state.get_task("task-1")
        assert found is not None and found.id == "task-001"
        orch.close()

    asyncio.run(main())
    out = capsys.readouterr().out
    assert "Created: task-002" in out
    for finished in range(1, 8):
        assert f"Completed: task-{finished:03}" in out, "every task of the predefined run was done"
    assert "Completed 0 tasks" in out, "the leader, with no script, planned nothing"
    assert "Summary: " in out
    saved = json.loads((here / "checkpoint.json").read_text())
    assert saved["master_plan"] == "1. Design schema\n2. Implement endpoints\n3. Add tests"
    assert all(task["status"] == "done" for task in saved["tasks"])
    assert (saved["config"]["max_workers"], saved["config"]["task_timeout"]) == (5, 300)
