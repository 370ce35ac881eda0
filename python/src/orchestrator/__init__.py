"""baton's Python client: the reference's ``Orchestrator`` API, served by the
workspace's baton daemon.

    from orchestrator import Orchestrator
    from orchestrator.models import Task, TaskResult
    from orchestrator.exceptions import OrchestrationError
"""

import logging

#: This client's version; it talks only to a daemon of the same version.
__version__ = "0.1.0"

# A library's log is its user's to show: without a handler of theirs, Python would
# print its warnings on standard error, whatever `verbose` says.
logging.getLogger("orchestrator").addHandler(logging.NullHandler())

from .exceptions import (  # noqa: E402
    AgentNotFoundError,
    InvalidInputError,
    OrchestrationError,
    TaskNotFoundError,
    TimeoutError,
)
from .models import (  # noqa: E402
    CoordinationState,
    Discovery,
    Task,
    TaskContext,
    TaskResult,
    TaskStatus,
)
from .orchestrator import Orchestrator  # noqa: E402

__all__ = [
    "Orchestrator",
    "Task",
    "TaskStatus",
    "TaskResult",
    "TaskContext",
    "Discovery",
    "CoordinationState",
    "OrchestrationError",
    "TaskNotFoundError",
    "AgentNotFoundError",
    "TimeoutError",
    "InvalidInputError",
    "__version__",
]
