"""The reference's ``Orchestrator``, as a client of the workspace's daemon.

Every operation is a request to the daemon, which owns the rules and the state; the
client keeps only a mirror of that state. The connection lives on an event loop of
its own, in a thread of its own, so that the reference's plain calls (``add_task``,
``get_status``, …) block only their caller and work inside a running event loop as
well as outside one, while its ``async`` methods await the same requests.
Callbacks run in a third thread, one at a time, in the order of the notifications.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import weakref
from typing import Any, Callable, Coroutine, Dict, List, Mapping, Optional, Set, TypeVar, Union

from . import __version__
from .agent_env import agent_environment
from .connection import Connection
from .daemon import DaemonInfo, start_daemon
from .exceptions import OrchestrationError
from .mirror import StateMirror
from .models import UNCHANGED, CoordinationState, Discovery, Task, TaskResult, TaskStatus, Unchanged
from .progress import describe, describe_result

__all__ = ["Orchestrator"]

_log = logging.getLogger("orchestrator")

_T = TypeVar("_T")


# What a call in flight when ``close()`` ran raises: the error every later call raises.
_CLOSED_WHILE_WAITING = "this Orchestrator was closed while the call waited; create a new one"

#: The pauses between attempts to reach the daemon again after it crashed.
_RECONNECT_PAUSES_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class _EventLoopThread:
    """An event loop running in a daemon thread, for the connection."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="orchestrator-io", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> "concurrent.futures.Future[_T]":
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        """Ends what still runs on the loop (a fetch of the state, a reader), then the loop."""
        try:
            self.submit(self._cancel_the_rest()).result(timeout=5)
        except Exception:
            _log.debug("ending the connection's tasks failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()

    @staticmethod
    async def _cancel_the_rest() -> None:
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


class _CallbackThread:
    """Runs callbacks one at a time, in order, outside the connection's thread, so a
    callback may call the orchestrator; one that raises is logged and the rest go on."""

    def __init__(self) -> None:
        self._queue: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="orchestrator-callbacks", daemon=True)
        self._thread.start()

    def submit(self, name: str, callback: Callable[[Any], None], argument: Any) -> None:
        def call() -> None:
            try:
                callback(argument)
            # Even `SystemExit` or `KeyboardInterrupt`: it would end this thread, and
            # with it every later callback, silently.
            except BaseException:
                _log.exception("the %s callback raised; the orchestrator goes on", name)

        self._queue.put(call)

    def _run(self) -> None:
        while True:
            call = self._queue.get()
            if call is None:
                return
            call()

    def stop(self) -> None:
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)


def _absolute(path: Any) -> Any:
    """``path`` made absolute from the current directory now, so that a later
    ``chdir`` moves nothing; anything but a path is sent as given, for the daemon to
    say what is wrong with it."""
    return os.path.abspath(path) if isinstance(path, (str, os.PathLike)) else path


def _shut_down(
    ended: threading.Event, io: _EventLoopThread, callbacks: _CallbackThread, snapshot_dir: str
) -> None:
    """Ends an orchestrator's connection and threads; the daemon keeps running. At
    exit too, for one never closed: the connection it ends was not lost."""
    ended.set()
    io.stop()
    callbacks.stop()
    shutil.rmtree(snapshot_dir, ignore_errors=True)


def _nothing_run(goal: str, why: str) -> Dict[str, Any]:
    """The result of a run that had no task to run, in a run result's shape."""
    tally = {"entered": 0, "cost_usd": 0.0}
    return {
        "goal": goal,
        "tasks_completed": 0,
        "tasks_failed": 0,
        "tasks_cancelled": 0,
        "discoveries": 0,
        "summary": why,
        "cost_usd": 0.0,
        "run": 0,
        "stages": {stage: dict(tally) for stage in ("work", "verify", "resolve", "review")},
    }


class Orchestrator:
    """Coordinates Claude Code agents on one workspace through its baton daemon.

    Creating one connects to the workspace's daemon (starting it, as the CLI does,
    when none runs) and applies those of ``max_workers``, ``model`` and
    ``task_timeout`` it is given to the workspace's configuration; the others are read
    from it (a new workspace has the reference's defaults: 3, claude-sonnet-4, 600 s),
    so a client that only watches changes no setting. Every client of the workspace (the CLI, VS Code,
    another script, the agents) sees the same state, and their changes reach
    ``state``, ``on_task_complete`` and ``on_discovery`` here.
    """

    def __init__(
        self,
        working_directory: str = ".",
        max_workers: Optional[int] = None,
        model: Optional[str] = None,
        task_timeout: Optional[int] = None,
        on_task_complete: Optional[Callable[[Task], None]] = None,
        on_discovery: Optional[Callable[[Discovery], None]] = None,
        verbose: bool = True,
    ) -> None:
        self.working_directory = working_directory
        self._directory = _absolute(working_directory)
        # The settings this client was given; the others are the workspace's, read once
        # connected. `initialize` applies again those given and any changed since.
        self._given: Dict[str, Any] = {
            name: value
            for name, value in (("max_workers", max_workers), ("model", model), ("task_timeout", task_timeout))
            if value is not None
        }
        self._read: Dict[str, Any] = {}
        self.max_workers: int = max_workers if max_workers is not None else 3
        self.model: str = model if model is not None else "claude-sonnet-4-20250514"
        self.task_timeout: int = task_timeout if task_timeout is not None else 600
        self.on_task_complete = on_task_complete
        self.on_discovery = on_discovery
        self.verbose = verbose
        self._mirror = StateMirror()
        self._connection: Optional[Connection] = None
        self._daemon: Optional[DaemonInfo] = None
        self._connecting: Optional["asyncio.Future[Connection]"] = None
        self._refresher: Optional["asyncio.Task[None]"] = None
        self._refresh_wanted = False
        self._recovery: Optional["asyncio.Task[None]"] = None
        #: While connecting again after a crash: the completions and discoveries heard
        #: meanwhile, whose callbacks ran already.
        self._heard_done: Optional[Set[str]] = None
        self._heard_discoveries: List[Discovery] = []
        self._snapshot_dir = tempfile.mkdtemp(prefix="baton-orchestrator-")
        self._ended = threading.Event()
        self._callbacks = _CallbackThread()
        self._io = _EventLoopThread()
        # Runs at close, or at exit for an orchestrator never closed.
        self._shutdown = weakref.finalize(
            self, _shut_down, self._ended, self._io, self._callbacks, self._snapshot_dir
        )
        try:
            self._wait(self._configure())
        except BaseException:
            self.close()
            raise

    # The reference's methods.

    async def initialize(self, goal: str, master_plan: str = "") -> None:
        """Sets the goal (and the master plan; the leader writes one when it is empty)."""
        await self._await(self._request_then_refresh("baton/init", {
            "goal": goal, "master_plan": master_plan, "config": self._config_patch()
        }))

    async def start(self) -> None:
        """Starts dispatching ready tasks to agents, which get this process's model
        variables as a run's do. While a run goes, or when no task waits, nothing
        changes."""
        await self._await(self._start())

    async def stop(self) -> None:
        """Stops dispatching and ends every running agent; returns once they have ended
        and their tasks are back in the queue."""
        await self._await(self._request_then_refresh("baton/stop"))

    def add_task(
        self,
        description: str,
        priority: int = 5,
        dependencies: Optional[List[str]] = None,
        context_files: Optional[List[str]] = None,
        hints: str = "",
        model: Optional[str] = None,
    ) -> Task:
        """Adds a task to the queue; priority 1 is the most urgent, 10 the least.
        ``model`` (baton's) is the model its agent uses; ``None`` is the workspace's."""
        params: Dict[str, Any] = {
            "description": description,
            "priority": priority,
            "dependencies": dependencies if dependencies is not None else [],
            "context_files": context_files if context_files is not None else [],
            "hints": hints,
        }
        if model is not None:
            params["model"] = model
        return self._wait(self._task_request("baton/addTask", params))

    def add_tasks_batch(self, tasks: List[Dict[str, Any]]) -> List[Task]:
        """Adds several tasks at once, all or none; a dependency may name the id another
        task of the batch gets."""
        # Sent as given: the daemon says what is wrong with what is not a list of dicts.
        batch = [dict(task) if isinstance(task, Mapping) else task for task in tasks] if isinstance(tasks, list) else tasks
        return self._wait(self._tasks_request("baton/addTasks", {"tasks": batch}))

    async def claim_task(self, agent_id: str) -> Optional[Task]:
        """Hands the most urgent ready task to ``agent_id``; ``None`` when none is ready."""
        return await self._await(self._optional_task_request("baton/claimTask", {"agent_id": agent_id}))

    async def complete_task(self, task_id: str, result: TaskResult) -> bool:
        """Marks a claimed task done with its result (a ``TaskResult``, or a dict of
        its fields)."""
        # Anything else is sent as given, for the daemon to say what is wrong with it.
        sent: Any = result.to_dict() if isinstance(result, TaskResult) else result
        params = {"task_id": task_id, "result": dict(sent) if isinstance(sent, Mapping) else sent}
        await self._await(self._task_request("baton/completeTask", params))
        return True

    async def fail_task(self, task_id: str, error: str) -> bool:
        """Marks a task failed, saying why; the tasks that depend on it fail too."""
        await self._await(self._task_request("baton/failTask", {"task_id": task_id, "error": error}))
        return True

    async def run_with_leader_planning(self) -> Dict[str, Any]:
        """A leader agent plans the goal into tasks, workers do them; answers the result."""
        return await self._await(self._run("leader"))

    async def run_with_predefined_tasks(self) -> Dict[str, Any]:
        """Workers do the tasks already added; answers the result."""
        return await self._await(self._run("predefined"))

    def get_status(self) -> Dict[str, Any]:
        """The state at a glance: goal, progress, agents, recent discoveries, last activity."""
        status: Dict[str, Any] = self._wait(self._request("baton/status"))
        return status

    def save_state(self, filepath: str) -> None:
        """Writes the whole state to ``filepath`` (relative to the current directory)."""
        self._wait(self._request("baton/saveState", {"path": _absolute(filepath)}))

    def load_state(self, filepath: str) -> None:
        """Replaces the whole state with a state file's, after checking all of it."""
        self._wait(self._request_then_refresh("baton/loadState", {"path": _absolute(filepath)}))
        self._read_settings()

    @property
    def state(self) -> CoordinationState:
        """The workspace's state as of the last notification; reading it sends nothing."""
        return self._mirror.state

    # baton's additions.

    def edit_task(
        self,
        task_id: str,
        description: Optional[str] = None,
        priority: Optional[int] = None,
        dependencies: Optional[List[str]] = None,
        context_files: Optional[List[str]] = None,
        hints: Optional[str] = None,
        model: Union[str, None, Unchanged] = UNCHANGED,
    ) -> Task:
        """Changes what a task that has not finished asks for, as ``baton edit`` does:
        each argument given replaces the task's, the others stay (``dependencies=[]``
        removes them all). ``model`` applies from its agent's next attempt;
        ``model=None`` gives the task the workspace's model again, as ``baton edit ID
        --model none`` does. Answers the task as it is now."""
        params: Dict[str, Any] = {"task_id": task_id}
        given = {
            "description": description,
            "priority": priority,
            "dependencies": dependencies,
            "context_files": context_files,
            "hints": hints,
        }
        params.update({name: value for name, value in given.items() if value is not None})
        if not isinstance(model, Unchanged):
            params["model"] = model
        return self._wait(self._task_request("baton/editTask", params))

    @property
    def daemon(self) -> Optional[DaemonInfo]:
        """Which daemon serves the workspace: version, process, socket, log file."""
        return self._daemon

    def close(self) -> None:
        """Ends the connection and the client's threads; the daemon keeps running."""
        self._shutdown()

    @property
    def _closed(self) -> bool:
        return self._ended.is_set()

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Running requests on the connection's loop.

    def _wait(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Runs ``coroutine`` on the connection's loop and blocks until it ends."""
        future = self._submit(coroutine)
        try:
            return future.result()
        except concurrent.futures.CancelledError as err:
            if self._closed:
                raise OrchestrationError(_CLOSED_WHILE_WAITING) from err
            raise

    async def _await(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Runs ``coroutine`` on the connection's loop; the caller's loop awaits it."""
        future = self._submit(coroutine)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError as err:
            # Its work was ended by ``close()``, not the caller's own task cancelled.
            if self._closed and future.cancelled():
                raise OrchestrationError(_CLOSED_WHILE_WAITING) from err
            raise

    def _submit(self, coroutine: Coroutine[Any, Any, _T]) -> "concurrent.futures.Future[_T]":
        if self._closed:
            coroutine.close()
            raise OrchestrationError("this Orchestrator was closed; create a new one")
        return self._io.submit(coroutine)

    async def _connected(self) -> Connection:
        if self._closed:
            raise OrchestrationError("this Orchestrator was closed; create a new one")
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done():
                self._connecting = None

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        self._daemon = await loop.run_in_executor(None, start_daemon, self._directory)
        self._connection = await Connection.open(
            self._daemon.socket, __version__, self._on_notification, self._on_loss
        )
        self._want_refresh()
        return self._connection

    async def _request(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        connection = await self._connected()
        return await connection.request(method, params)

    async def _task_request(self, method: str, params: Dict[str, Any]) -> Task:
        marker = self._mirror.events_seen()
        task = Task.from_dict(await self._request(method, params))
        self._mirror.offer(task, marker)
        return task

    async def _optional_task_request(self, method: str, params: Dict[str, Any]) -> Optional[Task]:
        marker = self._mirror.events_seen()
        answer = await self._request(method, params)
        if answer is None:
            return None
        task = Task.from_dict(answer)
        self._mirror.offer(task, marker)
        return task

    async def _tasks_request(self, method: str, params: Dict[str, Any]) -> List[Task]:
        marker = self._mirror.events_seen()
        tasks = [Task.from_dict(task) for task in await self._request(method, params)]
        for task in tasks:
            self._mirror.offer(task, marker)
        return tasks

    async def _request_then_refresh(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """A request that changes the state as a whole; the mirror is fetched again
        before it returns, so the caller reads its own change."""
        await self._request(method, params)
        await self._refresh()

    async def _configure(self) -> None:
        """Applies the settings given, then reads the workspace's; connecting raises
        here when the daemon cannot be reached."""
        if self._given:
            await self._request("baton/configure", self._given)
        else:
            await self._connected()
        await self._refresh()
        self._read_settings()

    def _read_settings(self) -> None:
        """Takes the workspace's settings as this client's, as they are now."""
        config = self._mirror.state.config or {}
        state = self._mirror.state
        self._read = {
            "max_workers": config.get("max_workers", state.max_parallel_workers),
            "model": config.get("model", self.model),
            "task_timeout": config.get("task_timeout", state.task_timeout_seconds),
        }
        self.max_workers, self.model, self.task_timeout = (
            self._read["max_workers"],
            self._read["model"],
            self._read["task_timeout"],
        )

    def _config_patch(self) -> Dict[str, Any]:
        """The settings given to this client, and those changed on it since."""
        current = {"max_workers": self.max_workers, "model": self.model, "task_timeout": self.task_timeout}
        return {
            name: value
            for name, value in current.items()
            if name in self._given or value != self._read.get(name, value)
        }

    async def _start(self) -> None:
        # `baton/run` rather than `baton/start`, so that agents get this process's
        # variables, as the CLI's `baton start` does; a run going already, or no task
        # waiting, is `start`'s nothing to do.
        params = {"mode": "predefined", "wait": False, "env": agent_environment(os.environ)}
        try:
            await self._request("baton/run", params)
        except OrchestrationError as err:
            if err.cause not in ("run_going", "nothing_to_run"):
                raise
        await self._refresh()

    async def _run(self, mode: str) -> Dict[str, Any]:
        params = {"mode": mode, "wait": True, "env": agent_environment(os.environ)}
        try:
            result = await self._request("baton/run", params)
        except OrchestrationError as err:
            if err.cause != "nothing_to_run":
                raise
            # As `baton run --predefined` says it and exits 0: nothing was asked of
            # any agent, and nothing failed.
            result = _nothing_run(self._mirror.state.goal, str(err))
        if not isinstance(result, dict):
            raise OrchestrationError("the daemon answered the run without its result; `baton status` shows the state")
        if self.verbose:
            self._print(describe_result(result))
        return result

    # Losing the daemon.

    def _on_loss(self, said_stopping: bool) -> None:
        """The daemon closed the connection. After a crash the client connects again at
        once (a new daemon resumes the run), so that a script that only listens goes on
        hearing; a daemon stopped on purpose is started again by the next call only."""
        if self._closed:
            return
        if said_stopping:
            self._say_lost("the baton daemon stopped; the next call starts it again")
            return
        self._say_lost("the baton daemon ended without stopping (it crashed or was killed); connecting again")
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._recover())

    def _say_lost(self, text: str) -> None:
        _log.warning("%s", text)
        if self.verbose:
            self._print(text)

    async def _recover(self) -> None:
        """Connects again, then runs the callbacks of what finished while no connection
        was there to hear it."""
        before = {task.id: task.status for task in self._mirror.state.tasks}
        known = list(self._mirror.state.discoveries)
        self._heard_done, self._heard_discoveries = set(), []
        try:
            for pause in _RECONNECT_PAUSES_S:
                try:
                    await self._connected()
                    break
                except OrchestrationError as err:
                    failure = err
                    if self._closed:
                        return
                    await asyncio.sleep(pause)
            else:
                self._say_lost(f"could not reach the baton daemon again ({failure}); the next call tries again")
                return
            await self._refresh()
            missed_tasks = [
                task
                for task in self._mirror.state.tasks
                if task.status == TaskStatus.DONE
                and before.get(task.id) != TaskStatus.DONE
                and task.id not in self._heard_done
            ]
            missed_discoveries = [
                found
                for found in self._mirror.state.discoveries
                if found not in known and found not in self._heard_discoveries
            ]
        finally:
            self._heard_done, self._heard_discoveries = None, []
        for task in missed_tasks:
            if self.on_task_complete is not None:
                self._callbacks.submit("on_task_complete", self.on_task_complete, task)
        for found in missed_discoveries:
            if self.on_discovery is not None:
                self._callbacks.submit("on_discovery", self.on_discovery, found)

    # Keeping the mirror.

    def _want_refresh(self) -> "asyncio.Task[None]":
        """Fetches the whole state again soon; requests made meanwhile share one fetch."""
        self._refresh_wanted = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.ensure_future(self._refresh_loop())
        return self._refresher

    async def _refresh(self) -> None:
        await asyncio.shield(self._want_refresh())

    async def _refresh_loop(self) -> None:
        while self._refresh_wanted:
            self._refresh_wanted = False
            self._mirror.fetch_started()
            state: Optional[CoordinationState] = None
            try:
                state = await self._fetch_state()
            except OrchestrationError as err:
                if not self._closed:
                    _log.warning("could not fetch the workspace's state: %s", err)
            finally:
                self._mirror.fetch_finished(state)

    async def _fetch_state(self) -> CoordinationState:
        """The whole state, as the daemon writes it to a state file."""
        path = os.path.join(self._snapshot_dir, "state.json")
        await self._request("baton/saveState", {"path": path})
        try:
            with open(path, encoding="utf-8") as file:
                return CoordinationState.from_dict(json.load(file))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise OrchestrationError(f"the state the daemon wrote to {path} is unreadable: {err}") from err

    def _on_notification(self, method: str, params: Any) -> None:
        try:
            if method in ("baton/taskCreated", "baton/taskUpdated", "baton/taskCompleted", "baton/taskFailed"):
                task = Task.from_dict(params)
                self._mirror.on_task_event(task)
                if method == "baton/taskCompleted":
                    if self._heard_done is not None:
                        self._heard_done.add(task.id)
                    if self.on_task_complete is not None:
                        self._callbacks.submit("on_task_complete", self.on_task_complete, task)
            elif method == "baton/taskDeleted":
                self._mirror.on_task_deleted(Task.from_dict(params))
            elif method == "baton/discovery":
                discovery = Discovery.from_dict(params)
                self._mirror.on_discovery(discovery)
                if self._heard_done is not None:
                    self._heard_discoveries.append(discovery)
                if self.on_discovery is not None:
                    self._callbacks.submit("on_discovery", self.on_discovery, discovery)
            elif method == "baton/stateChanged":
                self._want_refresh()
        except (KeyError, ValueError, TypeError) as err:
            _log.warning("ignored an unreadable %s notification: %s", method, err)
        if self.verbose:
            line = describe(method, params)
            if line is not None:
                self._print(line)

    def _print(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)
