"""The models on their own: the reference's fields and defaults, the wire JSON both
ways, and the reference's methods on the objects."""

from __future__ import annotations

import builtins
import dataclasses
import os
import re
import time
from pathlib import Path
from datetime import datetime, timezone

import pytest

from orchestrator import agent_env, exceptions
from orchestrator.models import (
    CoordinationState,
    Discovery,
    Task,
    TaskContext,
    TaskResult,
    TaskStatus,
)

# A task as the daemon sends it (docs/protocol.md), with a field this version does not know.
WIRE_TASK = {
    "id": "task-002",
    "description": "Implement the login endpoint",
    "status": "done",
    "priority": 2,
    "claimed_by": "worker-1",
    "dependencies": ["task-001"],
    "context": {"files": ["src/auth/login.ts"], "hints": "Use JWT", "parent_task": None},
    "result": {
        "output": "endpoint added",
        "files_modified": ["src/app.ts"],
        "files_created": ["src/auth/login.ts"],
        "error": None,
        "discoveries": [],
        "subtasks_created": [],
    },
    "created_at": "2026-11-30T03:38:51.756775Z",
    "claimed_at": "2026-11-30T03:38:52.361466Z",
    "completed_at": "2026-11-30T03:38:54.000001Z",
    "attempts": 1,
    "usage": {"cost_usd": 0.25, "input_tokens": 10, "output_tokens": 5, "turns": 2, "duration_ms": 900},
    "session_id": "abc",
    "a_later_field": {"kept": True},
}


def test_task_status_is_a_str_enum_with_the_references_values_and_cancelled() -> None:
    assert [status.value for status in TaskStatus] == [
        "available", "claimed", "in_progress", "done", "failed", "cancelled",
    ]
    assert TaskStatus.DONE == "done"
    assert isinstance(TaskStatus.IN_PROGRESS, str)


def test_the_dataclasses_have_the_references_fields_and_defaults() -> None:
    result = TaskResult(output="x")
    assert (result.files_modified, result.files_created, result.error, result.discoveries, result.subtasks_created) == (
        [], [], None, [], [],
    )
    assert TaskContext() == TaskContext(files=[], hints="", parent_task=None)
    found = Discovery(agent_id="a", content="c")
    assert (found.related_task, found.tags) == (None, [])
    assert isinstance(found.created_at, datetime)
    state = CoordinationState()
    assert (state.goal, state.master_plan, state.working_directory, state.tasks, state.discoveries) == (
        "", "", ".", [], [],
    )
    assert (state.max_parallel_workers, state.task_timeout_seconds, state.created_at, state.last_activity) == (
        3, 600, None, None,
    )
    reference_task_fields = [
        "id", "description", "status", "priority", "claimed_by", "dependencies", "context",
        "result", "created_at", "claimed_at", "completed_at",
    ]
    assert [f.name for f in dataclasses.fields(Task)][: len(reference_task_fields)] == reference_task_fields


def test_a_task_reads_and_writes_the_wire_json_keeping_unknown_fields() -> None:
    task = Task.from_dict(WIRE_TASK)
    assert task.status is TaskStatus.DONE
    assert task.context.hints == "Use JWT"
    assert task.result is not None and task.result.files_created == ["src/auth/login.ts"]
    assert task.created_at == datetime(2026, 11, 30, 3, 38, 51, 756775, tzinfo=timezone.utc)
    assert task.usage.cost_usd == 0.25
    assert task.to_dict() == WIRE_TASK


def test_a_state_file_reads_and_writes_both_ways() -> None:
    wire = {
        "goal": "g",
        "master_plan": "p",
        "working_directory": ".",
        "tasks": [WIRE_TASK],
        "discoveries": [
            {"agent_id": "worker-1", "content": "c", "related_task": "task-002", "tags": ["t"],
             "created_at": "2026-11-30T03:38:51.000000Z"},
        ],
        "max_parallel_workers": 3,
        "task_timeout_seconds": 600,
        "created_at": "2026-11-30T03:38:50.000000Z",
        "last_activity": None,
        "config": {"max_workers": 3},
    }
    state = CoordinationState.from_dict(wire)
    assert state.discoveries[0].tags == ["t"]
    assert state.to_dict() == wire


def test_naive_timestamps_are_taken_as_utc() -> None:
    task = Task.from_dict(WIRE_TASK | {"created_at": "2024-05-01T10:00:00"})
    assert task.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def test_a_naive_datetime_made_in_python_is_written_as_the_local_time_it_is() -> None:
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "EST5EDT"
    time.tzset()
    try:
        made = datetime(2026, 12, 4, 15, 42, 48)
        written = Discovery(agent_id="a", content="c", created_at=made).to_dict()
        assert written["created_at"] == "2026-12-04T20:42:48.000000Z"
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()


def test_task_methods_change_the_object_as_the_reference_says() -> None:
    task = Task(id="task-001", description="d")
    assert task.status is TaskStatus.AVAILABLE and task.priority == 5
    task.claim("worker-1")
    assert (task.status, task.claimed_by) == (TaskStatus.CLAIMED, "worker-1")
    assert task.claimed_at is not None
    task.start()
    assert task.status is TaskStatus.IN_PROGRESS
    task.complete(TaskResult(output="ok"))
    assert task.status is TaskStatus.DONE and task.result == TaskResult(output="ok")
    assert task.completed_at is not None
    other = Task(id="task-002", description="d")
    other.fail("no way")
    assert other.status is TaskStatus.FAILED
    assert other.result is not None and other.result.error == "no way"


def test_coordination_state_methods_answer_from_the_object() -> None:
    state = CoordinationState()
    first = Task(id="task-001", description="a", priority=3)
    second = Task(id="task-002", description="b", priority=1, dependencies=["task-001"])
    third = Task(id="task-003", description="c", priority=2)
    for task in (first, second, third):
        state.add_task(task)
    assert state.get_task("task-002") is second
    assert state.get_task("task-404") is None
    assert state.get_task("task-2") is second and state.get_task("task-0002") is second
    assert state.get_task("Task-2") is None and state.get_task("task-+2") is None
    assert [t.id for t in state.get_available_tasks()] == ["task-003", "task-001"]
    first.complete(TaskResult(output="ok"))
    assert [t.id for t in state.get_available_tasks()] == ["task-002", "task-003"]
    progress = state.get_progress()
    assert progress["total_tasks"] == 3
    assert progress["percent_complete"] == 33
    assert progress["by_status"]["done"] == 1 and progress["by_status"]["available"] == 2


def test_wire_errors_become_the_references_exceptions() -> None:
    cases = {
        "OrchestrationError": exceptions.OrchestrationError,
        "TaskNotFoundError": exceptions.TaskNotFoundError,
        "AgentNotFoundError": exceptions.AgentNotFoundError,
        "TimeoutError": exceptions.TimeoutError,
        "InvalidInputError": exceptions.InvalidInputError,
    }
    for kind, cls in cases.items():
        error = exceptions.from_wire({"code": -32000, "message": "what to do", "data": {"kind": kind}})
        assert type(error) is cls
        assert isinstance(error, exceptions.OrchestrationError)
        assert (error.kind, str(error)) == (kind, "what to do")
    by_code = exceptions.from_wire({"code": -32011, "message": "gone"})
    assert isinstance(by_code, exceptions.TaskNotFoundError)
    invalid_params = exceptions.from_wire({"code": -32602, "message": "unknown field `prio`"})
    assert isinstance(invalid_params, exceptions.InvalidInputError)
    assert type(exceptions.from_wire({"code": -32601, "message": "Method not found"})) is exceptions.OrchestrationError


def test_the_references_timeout_error_is_also_the_builtin() -> None:
    with pytest.raises(builtins.TimeoutError):
        raise exceptions.TimeoutError("the task ran past task_timeout")


def test_the_agents_environment_is_the_daemons_allow_list() -> None:
    rust = (Path(__file__).resolve().parents[2] / "protocol" / "src" / "agent_env.rs").read_text()

    def constant(name: str) -> tuple[str, ...]:
        found = re.search(rf"pub const {name}: &\[&str\] = &\[(.*?)\];", rust, re.S)
        assert found, f"{name} in agent_env.rs"
        return tuple(re.findall(r'"([^"]+)"', found.group(1)))

    assert agent_env.PASSED_PREFIXES == constant("PASSED_PREFIXES")
    assert agent_env.PASSED_NAMES == constant("PASSED_NAMES")
    sent = agent_env.agent_environment({"ANTHROPIC_API_KEY": "k", "https_proxy": "p", "HOME": "/h", "PATH": "/b"})
    assert sent == {"ANTHROPIC_API_KEY": "k", "https_proxy": "p"}
