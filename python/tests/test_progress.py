"""What ``verbose=True`` prints of agents' activity: the lines `baton run` prints."""

from __future__ import annotations

from typing import Optional

import pytest

from orchestrator.progress import describe


def activity(kind: str, text: str) -> Optional[str]:
    return describe("baton/agentActivity", {"agent_id": "worker-1", "task_id": "task-001", "kind": kind, "text": text})


@pytest.mark.parametrize(
    ("kind", "text", "line"),
    [
        ("tool", "Bash cargo test", "worker-1 on task-001: uses Bash cargo test"),
        ("text", "all tests pass", "worker-1 on task-001: all tests pass"),
        ("started", "", "worker-1 on task-001: started"),
        ("stage", "verifying", "worker-1 on task-001: stage: verifying"),
        ("text", "", None),
        ("finished", "done", None),
    ],
)
def test_each_activity_is_worded_as_baton_run_words_it_and_an_empty_one_not_at_all(
    kind: str, text: str, line: Optional[str]
) -> None:
    assert activity(kind, text) == line
