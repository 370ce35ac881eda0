"""The client's copy of the workspace's state, kept current from the daemon's
notifications so that reading ``Orchestrator.state`` costs nothing.

Each task notification carries the whole task, and notifications come in the order
the daemon made the changes, so the last one seen for a task is its state. A fresh
copy of the whole state (fetched when the daemon says the state changed as a whole)
is taken as the base, and the notifications that arrived while it was being fetched
are applied on top of it again: whichever of the two is newer wins.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Optional, Tuple, Union

from .models import CoordinationState, Discovery, Task

__all__ = ["StateMirror"]

#: A notification kept to be applied again: ("task" | "deleted", Task) or ("discovery", Discovery).
_Change = Tuple[str, Union[Task, Discovery]]


class StateMirror:
    """A ``CoordinationState`` updated in place from notifications and answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = CoordinationState()
        self._positions: Dict[str, int] = {}
        self._events = 0
        self._last_event: Dict[str, int] = {}
        self._since_fetch: Optional[List[_Change]] = None

    @property
    def state(self) -> CoordinationState:
        """The state as of the last notification or answer."""
        return self._state

    def events_seen(self) -> int:
        """How many task notifications have arrived; a mark to pass to ``offer``."""
        with self._lock:
            return self._events

    def on_task_event(self, task: Task) -> None:
        """A task notification: the task as the daemon has it now."""
        with self._lock:
            self._events += 1
            self._last_event[task.id] = self._events
            self._upsert(task)
            if self._since_fetch is not None:
                self._since_fetch.append(("task", task))

    def on_task_deleted(self, task: Task) -> None:
        """A task was deleted; ``task`` is how it was."""
        with self._lock:
            self._events += 1
            self._last_event[task.id] = self._events
            self._remove(task.id)
            if self._since_fetch is not None:
                self._since_fetch.append(("deleted", task))

    def on_discovery(self, discovery: Discovery) -> None:
        """A discovery notification."""
        with self._lock:
            self._add_discovery(discovery)
            if self._since_fetch is not None:
                self._since_fetch.append(("discovery", discovery))

    def offer(self, task: Task, events_before: int) -> None:
        """A task a request answered with. It is taken unless a notification about the
        task arrived after the request was sent (that one may be newer)."""
        with self._lock:
            if self._last_event.get(task.id, 0) <= events_before:
                self._upsert(task)

    def fetch_started(self) -> None:
        """A copy of the whole state is being fetched: remember what arrives meanwhile."""
        with self._lock:
            self._since_fetch = []

    def fetch_finished(self, state: Optional[CoordinationState]) -> None:
        """The fetched copy (``None`` when fetching failed) replaces the state, with the
        notifications that arrived meanwhile applied on top."""
        with self._lock:
            replay = self._since_fetch or []
            self._since_fetch = None
            if state is None:
                return
            self._state = state
            self._positions = {task.id: index for index, task in enumerate(state.tasks)}
            for kind, change in replay:
                if isinstance(change, Discovery):
                    self._add_discovery(change)
                elif kind == "deleted":
                    self._remove(change.id)
                else:
                    self._upsert(change)

    def _upsert(self, task: Task) -> None:
        tasks = self._state.tasks
        position = self._positions.get(task.id)
        if position is not None and position < len(tasks) and tasks[position].id == task.id:
            tasks[position] = task
        else:
            # In creation order, as the daemon keeps them: calls from several threads
            # may have their answers, which come before the notifications, in any order.
            at = len(tasks)
            while at > 0 and tasks[at - 1].created_at > task.created_at:
                at -= 1
            tasks.insert(at, task)
            for index in range(at, len(tasks)):
                self._positions[tasks[index].id] = index
        latest = task.completed_at or task.claimed_at or task.created_at
        if self._state.last_activity is None or latest > self._state.last_activity:
            self._state.last_activity = latest

    def _remove(self, task_id: str) -> None:
        if task_id not in self._positions:
            return
        self._state.tasks = [task for task in self._state.tasks if task.id != task_id]
        self._positions = {task.id: index for index, task in enumerate(self._state.tasks)}

    def _add_discovery(self, discovery: Discovery) -> None:
        if discovery not in self._state.discoveries:
            self._state.discoveries.append(discovery)
