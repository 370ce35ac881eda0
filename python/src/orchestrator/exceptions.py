"""The reference's exceptions. Each carries the daemon's one-line message (which says
what to do) and its error kind, so a script can tell cases apart without parsing text.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "OrchestrationError",
    "TaskNotFoundError",
    "AgentNotFoundError",
    "TimeoutError",
    "InvalidInputError",
    "from_wire",
]


class OrchestrationError(Exception):
    """The base of every error: the operation is not possible, or the daemon could not be reached."""

    #: The daemon's error kind (``data.kind`` on the wire), or ``OrchestrationError``.
    kind: str
    #: The JSON-RPC error code, when the daemon answered with one.
    code: Optional[int]
    #: What the error is about (``data.cause``: ``run_going``, ``no_goal``, …), when the daemon says.
    cause: Optional[str]

    def __init__(
        self,
        message: str,
        kind: Optional[str] = None,
        code: Optional[int] = None,
        cause: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind or type(self).__name__
        self.code = code
        self.cause = cause


class TaskNotFoundError(OrchestrationError):
    """No task has the given id."""


class AgentNotFoundError(OrchestrationError):
    """No agent has the given id."""


class TimeoutError(OrchestrationError, builtins.TimeoutError):  # noqa: A001 - the reference's name
    """Something took longer than it may; also the builtin ``TimeoutError``."""


class InvalidInputError(OrchestrationError):
    """baton's addition: the request itself was wrong and nothing was changed; fix the input."""


_BY_KIND: Dict[str, Type[OrchestrationError]] = {
    "OrchestrationError": OrchestrationError,
    "TaskNotFoundError": TaskNotFoundError,
    "AgentNotFoundError": AgentNotFoundError,
    "TimeoutError": TimeoutError,
    "InvalidInputError": InvalidInputError,
}

_BY_CODE: Dict[int, str] = {
    -32010: "OrchestrationError",
    -32011: "TaskNotFoundError",
    -32012: "AgentNotFoundError",
    -32013: "TimeoutError",
    -32014: "InvalidInputError",
    # JSON-RPC's "invalid params": the request was refused before anything changed.
    -32602: "InvalidInputError",
}


def from_wire(error: Mapping[str, Any]) -> OrchestrationError:
    """The exception for a JSON-RPC error object: by ``data.kind``, else by code."""
    code = error.get("code")
    code = code if isinstance(code, int) else None
    data = error.get("data")
    kind = data.get("kind") if isinstance(data, Mapping) else None
    cause = data.get("cause") if isinstance(data, Mapping) else None
    if not isinstance(kind, str) or kind not in _BY_KIND:
        kind = _BY_CODE.get(code, "OrchestrationError") if code is not None else "OrchestrationError"
    message = error.get("message")
    text = message if isinstance(message, str) and message else "the daemon answered with an error"
    return _BY_KIND[kind](text, kind=kind, code=code, cause=cause if isinstance(cause, str) else None)
