"""What ``verbose=True`` prints: one line per notification worth following, worded
as ``baton run`` words them."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = ["describe", "describe_result"]


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe(method: str, params: Any) -> Optional[str]:
    """The line for one notification, or ``None`` for one not worth a line."""
    if not isinstance(params, Mapping):
        return None
    if method == "baton/taskCreated":
        return f"created {params.get('id')} [p{params.get('priority')}] {_one_line(params.get('description', ''))}"
    if method == "baton/taskCompleted":
        return f"completed {params.get('id')}"
    if method == "baton/taskFailed":
        verb = "cancelled" if params.get("status") == "cancelled" else "failed"
        result = params.get("result")
        error = result.get("error") if isinstance(result, Mapping) else None
        if error and error != params.get("status"):
            return f"{verb} {params.get('id')}: {_one_line(error)}"
        return f"{verb} {params.get('id')}"
    if method == "baton/taskDeleted":
        return f"deleted {params.get('id')}"
    if method == "baton/discovery":
        where = f" on {params['related_task']}" if params.get("related_task") else ""
        return f"discovery by {params.get('agent_id')}{where}: {_one_line(params.get('content', ''))}"
    if method == "baton/agentActivity" and params.get("kind") != "finished":
        who = str(params.get("agent_id"))
        if params.get("task_id"):
            who += f" on {params['task_id']}"
        text = _one_line(params.get("text", ""))
        kind = str(params.get("kind"))
        if kind == "tool":
            what = f"uses {text}"
        elif kind in ("text", "other"):
            what = text
        else:
            what = f"{kind}: {text}" if text else kind
        return f"{who}: {what}" if what else None
    if method == "baton/runStarted":
        modes = {"leader": "leader planning", "predefined": "predefined tasks", "plan": "planning only"}
        mode = modes.get(str(params.get("mode")), str(params.get("mode")))
        return f"run started ({mode}) {_one_line(params.get('goal', ''))}"
    return None


def describe_result(result: Dict[str, Any]) -> str:
    """The lines for a run's result."""
    return (
        f"run finished: {result.get('tasks_completed')} completed, {result.get('tasks_failed')} failed, "
        f"{result.get('discoveries')} discoveries\n{result.get('summary', '')}"
    )
