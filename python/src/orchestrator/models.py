"""The reference's data model, as plain dataclasses that read and write baton's wire JSON.

The daemon owns every rule: these objects carry what it answers and what a client
sends it. Fields the reference does not have (``attempts``, ``usage``, a task status
of ``cancelled``) are baton's additions; fields a later daemon adds and this version
does not know are kept in ``extra``, so that writing an object back loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional

__all__ = [
    "TaskStatus",
    "TaskResult",
    "TaskContext",
    "Usage",
    "Task",
    "Discovery",
    "CoordinationState",
    "parse_timestamp",
    "format_timestamp",
]


def _spelled(task_id: str) -> str:
    """``task_id`` as the daemon spells it: the number of ``task-`` and digits alone
    written with three digits at least, every other name as it is."""
    digits = task_id[len("task-"):]
    if not task_id.startswith("task-") or not digits.isascii() or not digits.isdigit():
        return task_id
    number = int(digits)
    return f"task-{number:03}" if number < 2**64 else task_id


def _now() -> datetime:
    """Timestamps are aware and in UTC, as the daemon writes them."""
    return datetime.now(timezone.utc)


def parse_timestamp(text: str) -> datetime:
    """Reads the daemon's RFC 3339 timestamps (``...Z``); a naive one is taken as UTC."""
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        return at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def format_timestamp(at: datetime) -> str:
    """Writes a timestamp as the daemon does: UTC, microseconds, ``Z``. A naive one is
    local time, as Python makes it (``datetime.now()``, the reference's default)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _optional_timestamp(value: Any) -> Optional[datetime]:
    return parse_timestamp(value) if isinstance(value, str) else None


def _optional_format(at: Optional[datetime]) -> Optional[str]:
    return format_timestamp(at) if at is not None else None


def _unknown(data: Mapping[str, Any], cls: type) -> Dict[str, Any]:
    """The members of ``data`` that ``cls`` has no field for."""
    known = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key not in known}


class Unchanged(Enum):
    """What an edit's argument is when it was left out, where ``None`` means something
    else: ``edit_task(model=None)`` gives the task the workspace's model again, as
    ``baton edit ID --model none`` does, while leaving ``model`` out keeps the task's."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


class TaskStatus(str, Enum):
    """Where a task is in its life. ``CANCELLED`` is baton's addition to the reference's five."""

    AVAILABLE = "available"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def is_finished(self) -> bool:
        """A finished task changes again only when someone retries it."""
        return self in (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED)


@dataclass
class TaskResult:
    """What came of a task: the agent's output, what changed, or why it failed."""

    output: str
    files_modified: List[str] = field(default_factory=list)
    files_created: List[str] = field(default_factory=list)
    error: Optional[str] = None
    discoveries: List[str] = field(default_factory=list)
    subtasks_created: List[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskResult:
        """Reads the wire JSON object."""
        return cls(
            output=str(data.get("output", "")),
            files_modified=list(data.get("files_modified") or []),
            files_created=list(data.get("files_created") or []),
            error=data.get("error"),
            discoveries=list(data.get("discoveries") or []),
            subtasks_created=list(data.get("subtasks_created") or []),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object. A list field given something else (a string) is sent
        as given, for the daemon to refuse, not split into its characters."""
        return {
            "output": self.output,
            "files_modified": _listed(self.files_modified),
            "files_created": _listed(self.files_created),
            "error": self.error,
            "discoveries": _listed(self.discoveries),
            "subtasks_created": _listed(self.subtasks_created),
        }


def _listed(items: Any) -> Any:
    """A list or tuple as a list; anything else as it is."""
    return list(items) if isinstance(items, (list, tuple)) else items


@dataclass
class TaskContext:
    """What a worker needs beyond the description."""

    files: List[str] = field(default_factory=list)
    hints: str = ""
    parent_task: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskContext:
        """Reads the wire JSON object."""
        return cls(
            files=list(data.get("files") or []),
            hints=str(data.get("hints") or ""),
            parent_task=data.get("parent_task"),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object."""
        return {"files": list(self.files), "hints": self.hints, "parent_task": self.parent_task}


@dataclass
class Usage:
    """baton's addition: what a task's agents spent, over all its attempts."""

    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    duration_ms: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Reads the wire JSON object."""
        return cls(
            cost_usd=float(data.get("cost_usd", 0.0)),
            input_tokens=int(data.get("input_tokens", 0)),
            output_tokens=int(data.get("output_tokens", 0)),
            turns=int(data.get("turns", 0)),
            duration_ms=int(data.get("duration_ms", 0)),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object."""
        return {
            "cost_usd": self.cost_usd,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "turns": self.turns,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Task:
    """A unit of work in the plan. The fields after ``completed_at`` are baton's."""

    id: str
    description: str
    status: TaskStatus = TaskStatus.AVAILABLE
    priority: int = 5
    claimed_by: Optional[str] = None
    dependencies: List[str] = field(default_factory=list)
    context: TaskContext = field(default_factory=TaskContext)
    result: Optional[TaskResult] = None
    created_at: datetime = field(default_factory=_now)
    claimed_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None
    attempts: int = 0
    failed_dependency: Optional[str] = None
    usage: Usage = field(default_factory=Usage)
    session_id: Optional[str] = None
    permission_denials: List[str] = field(default_factory=list)
    supervised: bool = False
    model: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def claim(self, agent_id: str) -> None:
        """Marks this object claimed by ``agent_id`` (the daemon's claim is ``claim_task``)."""
        self.status = TaskStatus.CLAIMED
        self.claimed_by = agent_id
        self.claimed_at = _now()

    def start(self) -> None:
        """Marks this object in progress."""
        self.status = TaskStatus.IN_PROGRESS

    def complete(self, result: TaskResult) -> None:
        """Marks this object done with ``result``."""
        self.status = TaskStatus.DONE
        self.result = result
        self.completed_at = _now()

    def fail(self, error: str) -> None:
        """Marks this object failed, keeping what its result already said."""
        self.status = TaskStatus.FAILED
        if self.result is None:
            self.result = TaskResult(output="", error=error)
        else:
            self.result.error = error
        self.completed_at = _now()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Reads the wire JSON object."""
        result = data.get("result")
        return cls(
            id=str(data["id"]),
            description=str(data["description"]),
            status=TaskStatus(data["status"]),
            priority=int(data.get("priority", 5)),
            claimed_by=data.get("claimed_by"),
            dependencies=list(data.get("dependencies") or []),
            context=TaskContext.from_dict(data.get("context") or {}),
            result=TaskResult.from_dict(result) if isinstance(result, Mapping) else None,
            created_at=parse_timestamp(data["created_at"]),
            claimed_at=_optional_timestamp(data.get("claimed_at")),
            completed_at=_optional_timestamp(data.get("completed_at")),
            attempts=int(data.get("attempts", 0)),
            failed_dependency=data.get("failed_dependency"),
            usage=Usage.from_dict(data.get("usage") or {}),
            session_id=data.get("session_id"),
            permission_denials=list(data.get("permission_denials") or []),
            supervised=bool(data.get("supervised", False)),
            model=data.get("model"),
            extra=_unknown(data, cls),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object, as the daemon writes it (optional additions left out)."""
        data: Dict[str, Any] = dict(self.extra)
        data.update(
            {
                "id": self.id,
                "description": self.description,
                "status": self.status.value,
                "priority": self.priority,
                "claimed_by": self.claimed_by,
                "dependencies": list(self.dependencies),
                "context": self.context.to_dict(),
                "result": self.result.to_dict() if self.result is not None else None,
                "created_at": format_timestamp(self.created_at),
                "claimed_at": _optional_format(self.claimed_at),
                "completed_at": _optional_format(self.completed_at),
                "attempts": self.attempts,
                "usage": self.usage.to_dict(),
            }
        )
        if self.failed_dependency is not None:
            data["failed_dependency"] = self.failed_dependency
        if self.session_id is not None:
            data["session_id"] = self.session_id
        if self.permission_denials:
            data["permission_denials"] = list(self.permission_denials)
        if self.supervised:
            data["supervised"] = True
        if self.model is not None:
            data["model"] = self.model
        return data


@dataclass
class Discovery:
    """A finding one agent shares with all the others."""

    agent_id: str
    content: str
    related_task: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=_now)
    extra: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Discovery:
        """Reads the wire JSON object."""
        return cls(
            agent_id=str(data["agent_id"]),
            content=str(data["content"]),
            related_task=data.get("related_task"),
            tags=list(data.get("tags") or []),
            created_at=parse_timestamp(data["created_at"]),
            extra=_unknown(data, cls),
        )

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object."""
        data: Dict[str, Any] = dict(self.extra)
        data.update(
            {
                "agent_id": self.agent_id,
                "content": self.content,
                "related_task": self.related_task,
                "tags": list(self.tags),
                "created_at": format_timestamp(self.created_at),
            }
        )
        return data


@dataclass
class CoordinationState:
    """The whole state of a workspace, in the shape of the state files."""

    goal: str = ""
    master_plan: str = ""
    working_directory: str = "."
    tasks: List[Task] = field(default_factory=list)
    discoveries: List[Discovery] = field(default_factory=list)
    max_parallel_workers: int = 3
    task_timeout_seconds: int = 600
    created_at: Optional[datetime] = None
    last_activity: Optional[datetime] = None
    config: Optional[Dict[str, Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def add_task(self, task: Task) -> None:
        """Adds ``task`` to this object (the daemon's add is ``Orchestrator.add_task``)."""
        self.tasks.append(task)
        self.last_activity = _now()

    def get_task(self, task_id: str) -> Optional[Task]:
        """The task with id ``task_id``, or ``None``. As with the daemon, a number's
        padding is not part of an id: ``task-1`` finds ``task-001``."""
        wanted = {task_id, _spelled(task_id)}
        return next((task for task in self.tasks if task.id in wanted), None)

    def get_available_tasks(self) -> List[Task]:
        """The available tasks whose dependencies are all done, in the order the daemon
        hands them out: priority (1 first), then the longest chain of tasks waiting on
        each, then age."""
        done = {task.id for task in self.tasks if task.status == TaskStatus.DONE}
        ready = [
            task
            for task in self.tasks
            if task.status == TaskStatus.AVAILABLE and all(dep in done for dep in task.dependencies)
        ]
        chains = self._chains()
        age = {task.id: position for position, task in enumerate(self.tasks)}
        return sorted(ready, key=lambda task: (task.priority, -chains.get(task.id, 1), age[task.id]))

    def _chains(self) -> Dict[str, int]:
        """For each task, the longest chain of work waiting on it, itself included: each
        task's chain is made once those of all the tasks waiting on it are."""
        # A failed or cancelled task waits for nothing: it is no link of a chain.
        waiting_on = {
            task.id: list(task.dependencies)
            for task in self.tasks
            if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED)
        }
        dependents: Dict[str, List[str]] = {task.id: [] for task in self.tasks}
        for task_id, dependencies in waiting_on.items():
            for dependency in dependencies:
                dependents.setdefault(dependency, []).append(task_id)
        untold = {task_id: len(found) for task_id, found in dependents.items()}
        chains: Dict[str, int] = {}
        told = [task_id for task_id, count in untold.items() if count == 0]
        while told:
            task_id = told.pop()
            chains[task_id] = 1 + max((chains[found] for found in dependents[task_id]), default=0)
            for dependency in waiting_on.get(task_id, []):
                untold[dependency] -= 1
                if untold[dependency] == 0:
                    told.append(dependency)
        return chains

    def get_progress(self) -> Dict[str, Any]:
        """Counts by status and the share finished, in the shape of ``get_status()["progress"]``."""
        by_status = {status.value: 0 for status in TaskStatus}
        for task in self.tasks:
            by_status[task.status.value] += 1
        total = len(self.tasks)
        finished = sum(1 for task in self.tasks if task.status.is_finished())
        return {
            "total_tasks": total,
            "percent_complete": finished * 100 // total if total else 0,
            "by_status": by_status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoordinationState:
        """Reads a state file's JSON object."""
        config = data.get("config")
        return cls(
            goal=str(data.get("goal") or ""),
            master_plan=str(data.get("master_plan") or ""),
            working_directory=str(data.get("working_directory") or "."),
            tasks=[Task.from_dict(task) for task in data.get("tasks") or []],
            discoveries=[Discovery.from_dict(found) for found in data.get("discoveries") or []],
            max_parallel_workers=int(data.get("max_parallel_workers", 3)),
            task_timeout_seconds=int(data.get("task_timeout_seconds", 600)),
            created_at=_optional_timestamp(data.get("created_at")),
            last_activity=_optional_timestamp(data.get("last_activity")),
            config=dict(config) if isinstance(config, Mapping) else None,
            extra=_unknown(data, cls),
        )

    def to_dict(self) -> Dict[str, Any]:
        """A state file's JSON object, as ``load_state`` and ``baton load`` read it."""
        data: Dict[str, Any] = dict(self.extra)
        data.update(
            {
                "goal": self.goal,
                "master_plan": self.master_plan,
                "working_directory": self.working_directory,
                "tasks": [task.to_dict() for task in self.tasks],
                "discoveries": [found.to_dict() for found in self.discoveries],
                "max_parallel_workers": self.max_parallel_workers,
                "task_timeout_seconds": self.task_timeout_seconds,
                "created_at": _optional_format(self.created_at),
                "last_activity": _optional_format(self.last_activity),
            }
        )
        if self.config is not None:
            data["config"] = dict(self.config)
        return data
