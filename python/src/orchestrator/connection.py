"""One JSON-RPC connection to a workspace's daemon: LSP framing (``Content-Length``)
over its Unix socket, the LSP handshake with the version check, requests matched to
their answers by id, and notifications handed on in the order they arrive.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from typing import Any, Callable, Dict, Optional

from .exceptions import InvalidInputError, OrchestrationError, TimeoutError, from_wire

__all__ = ["Connection", "LossHandler", "NotificationHandler"]

#: Called on the connection's event loop for each notification, in order.
NotificationHandler = Callable[[str, Any], None]

#: Called on the connection's event loop once the daemon's end of the connection
#: closed; its argument says whether the daemon said it was stopping.
LossHandler = Callable[[bool], None]

#: The largest request the daemon reads, and the largest answer it sends (answers
#: may be larger: every task of a large board); the client reads no more, so that a
#: broken peer cannot make it allocate without bound.
_MAX_REQUEST = 64 * 1024 * 1024
_MAX_ANSWER = 256 * 1024 * 1024
_MAX_HEADER = 8 * 1024

#: How long a daemon that took the connection has to answer the handshake; it needs no
#: state to, so one that takes longer is stuck or stopped.
_HANDSHAKE_LIMIT_S = 10.0

_CLOSED = "the connection to the baton daemon closed; `baton daemon status` tells whether it still runs"
_STOPPED = (
    "the baton daemon stopped before it read this request, so nothing was done; "
    "run it again (a new daemon starts)"
)
#: The daemon's last word before it closes a connection because it stops.
_CLOSING = "baton/closing"


class Connection:
    """A connection that has finished the handshake. Requests may be sent from many
    tasks of its event loop at once."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_notification: NotificationHandler,
        on_loss: Optional[LossHandler] = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_notification = on_notification
        self._on_loss = on_loss
        self._ids = itertools.count(1)
        self._pending: Dict[int, "asyncio.Future[Any]"] = {}
        self._closed = False
        #: This end closed it (``close()``): not a loss to report.
        self._closed_here = False
        #: The daemon refused the connection (too many open), saying why.
        self._refused: Optional[OrchestrationError] = None
        #: The daemon said it stops: a request still unanswered was never read.
        self._stopping = False
        self._read_task: Optional["asyncio.Task[None]"] = None
        #: The daemon's version, as it said at the handshake.
        self.daemon_version = ""

    @classmethod
    async def open(
        cls,
        socket: str,
        client_version: str,
        on_notification: NotificationHandler,
        on_loss: Optional[LossHandler] = None,
    ) -> Connection:
        """Connects to ``socket``, asks for notifications and checks that the daemon is
        of ``client_version``. ``on_loss`` hears of the daemon closing the connection
        after the handshake; a ``close()`` of this end is not a loss."""
        try:
            reader, writer = await asyncio.open_unix_connection(socket, limit=_MAX_HEADER)
        except OSError as err:
            raise OrchestrationError(
                f"no baton daemon answers at {socket}: {err}; `baton daemon start` starts it"
            ) from err
        connection = cls(reader, writer, on_notification)
        connection._read_task = asyncio.ensure_future(connection._read_loop())
        try:
            initialize = connection.request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": None,
                    "capabilities": {},
                    "clientInfo": {"name": "baton-orchestrator", "version": client_version},
                    "initializationOptions": {"events": True},
                },
            )
            try:
                answer = await asyncio.wait_for(initialize, _HANDSHAKE_LIMIT_S)
            except asyncio.TimeoutError as err:
                raise TimeoutError(
                    f"the baton daemon took the connection but did not answer within {_HANDSHAKE_LIMIT_S:.0f}s: "
                    "it is stuck or stopped (a SIGSTOP); `baton daemon stop` ends it, losing nothing it acknowledged"
                ) from err
            server = answer.get("serverInfo") if isinstance(answer, dict) else None
            version = server.get("version") if isinstance(server, dict) else None
            connection.daemon_version = version if isinstance(version, str) else ""
            if connection.daemon_version != client_version:
                raise OrchestrationError(
                    f"the daemon runs baton {connection.daemon_version or '(unknown)'} but this is "
                    f"baton-orchestrator {client_version}; run `baton daemon stop` and try again"
                )
            await connection._send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        except BaseException:
            await connection.close()
            raise
        connection._on_loss = on_loss
        if connection._read_task.done() and on_loss is not None:
            on_loss(connection._stopping)
        return connection

    @property
    def closed(self) -> bool:
        """Whether the daemon or this client ended the connection."""
        return self._closed

    async def request(self, method: str, params: Optional[Any] = None) -> Any:
        """Sends a request and waits for its answer; ``params`` of ``None`` are left out,
        as methods without parameters require. Raises the daemon's error as its exception."""
        if self._closed:
            raise self._why_closed()
        request_id = next(self._ids)
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            body = json.dumps(message, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"{method}: the arguments cannot be sent as JSON: {err}") from err
        answer: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            await self._write(body)
            return await answer
        except OrchestrationError as err:
            if len(body) > _MAX_REQUEST:
                raise OrchestrationError(
                    f"{method}: the request is {len(body) >> 20} MiB, more than the {_MAX_REQUEST >> 20} MiB the "
                    "daemon reads in one message; it closed the connection and did nothing of it"
                ) from err
            raise
        finally:
            self._pending.pop(request_id, None)
            if answer.done() and not answer.cancelled():
                # Heard by the caller already, or through the error above.
                answer.exception()

    async def close(self) -> None:
        """Ends the connection; whoever waits for an answer hears it closed."""
        self._closed = True
        self._closed_here = True
        self._writer.close()
        if self._read_task is not None and self._read_task is not asyncio.current_task():
            self._read_task.cancel()
            try:
                await self._read_task
            except (asyncio.CancelledError, Exception):
                pass
        self._fail_pending()

    async def _send(self, message: Dict[str, Any]) -> None:
        await self._write(json.dumps(message, ensure_ascii=False, allow_nan=False).encode("utf-8"))

    async def _write(self, body: bytes) -> None:
        # One write per frame, so frames from concurrent requests never interleave.
        self._writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as err:
            self._closed = True
            raise self._why_closed() from err

    async def _read_loop(self) -> None:
        try:
            while True:
                body = await self._read_frame()
                if body is None:
                    break
                try:
                    message = json.loads(body)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    await self._dispatch(message)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._closed = True
            self._writer.close()
            self._fail_pending()
            if not self._closed_here and self._on_loss is not None:
                self._on_loss(self._stopping)

    async def _read_frame(self) -> Optional[bytes]:
        length: Optional[int] = None
        while True:
            line = await self._reader.readline()
            if not line:
                if length is None:
                    return None
                raise asyncio.IncompleteReadError(line, None)
            header = line.strip()
            if not header:
                break
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None or length > _MAX_ANSWER:
            raise ValueError("bad Content-Length header")
        return await self._reader.readexactly(length)

    async def _dispatch(self, message: Dict[str, Any]) -> None:
        has_id = "id" in message and message["id"] is not None
        method = message.get("method")
        if has_id and method is None:
            waiter = self._pending.get(message["id"]) if isinstance(message["id"], int) else None
            if waiter is None or waiter.done():
                return
            error = message.get("error")
            if isinstance(error, dict):
                waiter.set_exception(from_wire(error))
            else:
                waiter.set_result(message.get("result"))
        elif has_id:
            # The daemon asks something of its client (a progress token): say yes.
            await self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
        elif method == _CLOSING:
            self._stopping = True
        elif method is None and isinstance(message.get("error"), dict):
            # An error without an id: the daemon refused the connection, saying why.
            self._refused = from_wire(message["error"])
        elif isinstance(method, str):
            self._on_notification(method, message.get("params"))

    def _why_closed(self) -> OrchestrationError:
        if self._refused is not None:
            refused = self._refused
            return type(refused)(refused.message, kind=refused.kind, code=refused.code, cause=refused.cause)
        return OrchestrationError(_STOPPED if self._stopping else _CLOSED)

    def _fail_pending(self) -> None:
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(self._why_closed())
        self._pending.clear()
