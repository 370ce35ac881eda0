"""The state mirror's ordering rules on their own: the last notification about a task
wins over an older copy, whether that copy is a fetched state or a call's answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator.mirror import StateMirror
from orchestrator.models import CoordinationState, Discovery, Task, TaskStatus


def task(status: TaskStatus, task_id: str = "task-001") -> Task:
    return Task(id=task_id, description="d", status=status)


def test_notifications_that_arrive_during_a_fetch_are_applied_over_it() -> None:
    mirror = StateMirror()
    mirror.fetch_started()
    mirror.on_task_event(task(TaskStatus.CLAIMED))
    mirror.on_task_event(task(TaskStatus.AVAILABLE, "task-002"))
    mirror.on_task_deleted(task(TaskStatus.AVAILABLE, "task-002"))
    found = Discovery(agent_id="a", content="c")
    mirror.on_discovery(found)
    fetched = CoordinationState(goal="g", tasks=[task(TaskStatus.AVAILABLE)])
    mirror.fetch_finished(fetched)
    assert mirror.state.goal == "g"
    assert [(t.id, t.status) for t in mirror.state.tasks] == [("task-001", TaskStatus.CLAIMED)]
    assert mirror.state.discoveries == [found]


def test_a_failed_fetch_keeps_the_state() -> None:
    mirror = StateMirror()
    mirror.on_task_event(task(TaskStatus.AVAILABLE))
    mirror.fetch_started()
    mirror.fetch_finished(None)
    assert [t.id for t in mirror.state.tasks] == ["task-001"]


def test_an_answer_older_than_a_notification_is_not_taken() -> None:
    mirror = StateMirror()
    before = mirror.events_seen()
    mirror.on_task_event(task(TaskStatus.DONE))
    mirror.offer(task(TaskStatus.CLAIMED), before)
    assert mirror.state.tasks[0].status is TaskStatus.DONE
    mirror.offer(task(TaskStatus.AVAILABLE, "task-002"), mirror.events_seen())
    assert [t.id for t in mirror.state.tasks] == ["task-001", "task-002"]


def test_tasks_stay_in_creation_order_whichever_answer_comes_first() -> None:
    """Two threads add a task each; the later task's answer may arrive first."""
    start = datetime(2026, 12, 5, tzinfo=timezone.utc)

    def created(task_id: str, seconds: int) -> Task:
        return Task(id=task_id, description="d", created_at=start + timedelta(seconds=seconds))

    mirror = StateMirror()
    mirror.offer(created("task-001", 0), mirror.events_seen())
    mirror.offer(created("task-003", 2), mirror.events_seen())
    mirror.offer(created("task-002", 1), mirror.events_seen())
    mirror.on_task_event(created("task-002", 1))
    mirror.on_task_event(created("task-003", 2))
    assert [t.id for t in mirror.state.tasks] == ["task-001", "task-002", "task-003"]
    assert mirror.state.get_task("task-003") is not None
    assert mirror.state.get_task("task-003").created_at == start + timedelta(seconds=2)
