"""What a client says of a request the daemon never read because it stopped. The
daemon sends `baton/closing` before it closes a connection as it stops (the Rust
end-to-end tests race real stops); a socket that does the same stands in for it
here, so that the moment is certain."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import orchestrator
from orchestrator import connection as connection_module
from orchestrator.connection import Connection
from orchestrator.exceptions import OrchestrationError


async def _read(reader: asyncio.StreamReader) -> dict:
    length = 0
    while (line := (await reader.readline()).strip()):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return json.loads(await reader.readexactly(length))


async def _write(writer: asyncio.StreamWriter, message: dict) -> None:
    body = json.dumps(message).encode()
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def _ask_a_stopping_daemon(socket: Path, closing: bool) -> str:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        initialize = await _read(reader)
        await _write(writer, {"jsonrpc": "2.0", "id": initialize["id"], "result": {
            "capabilities": {}, "serverInfo": {"name": "batond", "version": orchestrator.__version__}}})
        await _read(reader)  # initialized
        await _read(reader)  # the request, left unread as a stopping daemon leaves it
        if closing:
            await _write(writer, {"jsonrpc": "2.0", "method": "baton/closing", "params": {}})
        writer.close()

    server = await asyncio.start_unix_server(serve, path=str(socket))
    try:
        connection = await Connection.open(str(socket), orchestrator.__version__, lambda *_: None)
        with pytest.raises(OrchestrationError) as refused:
            await connection.request("baton/addTask", {"description": "x"})
        await connection.close()
        return str(refused.value)
    finally:
        server.close()


def test_a_request_a_stopping_daemon_never_read_is_known_not_done(tmp_path: Path) -> None:
    said = asyncio.run(_ask_a_stopping_daemon(tmp_path / "d.sock", closing=True))
    assert "nothing was done" in said
    assert "run it again" in said


def test_a_connection_that_just_ends_does_not_claim_nothing_was_done(tmp_path: Path) -> None:
    said = asyncio.run(_ask_a_stopping_daemon(tmp_path / "d.sock", closing=False))
    assert "nothing was done" not in said
    assert "closed" in said


def test_an_answer_larger_than_a_request_may_be_is_read_whole(tmp_path: Path) -> None:
    """The daemon sends answers of up to 256 MiB (every task of a large board) while
    it reads requests of up to 64 MiB; the client reads what it may be sent."""
    big = "x" * (80 * 1024 * 1024)

    async def main() -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            initialize = await _read(reader)
            await _write(writer, {"jsonrpc": "2.0", "id": initialize["id"], "result": {
                "capabilities": {}, "serverInfo": {"name": "batond", "version": orchestrator.__version__}}})
            await _read(reader)  # initialized
            request = await _read(reader)
            await _write(writer, {"jsonrpc": "2.0", "id": request["id"], "result": [{"description": big}]})
            await reader.read()

        socket = tmp_path / "d.sock"
        server = await asyncio.start_unix_server(serve, path=str(socket))
        try:
            connection = await Connection.open(str(socket), orchestrator.__version__, lambda *_: None)
            answer = await connection.request("baton/listTasks", {})
            await connection.close()
            return len(answer[0]["description"])
        finally:
            server.close()

    assert asyncio.run(main()) == len(big)


def test_a_connection_the_daemon_refuses_raises_what_it_said(tmp_path: Path) -> None:
    """A daemon serving all the connections it may answers a new one with an error
    without an id, then closes it."""
    said = "the baton daemon serves at most 1000 connections at once and all of them are open"

    async def main() -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _write(writer, {"jsonrpc": "2.0", "id": None, "error": {
                "code": -32010, "message": said, "data": {"kind": "OrchestrationError"}}})
            writer.close()

        socket = tmp_path / "d.sock"
        server = await asyncio.start_unix_server(serve, path=str(socket))
        try:
            with pytest.raises(OrchestrationError) as refused:
                await Connection.open(str(socket), orchestrator.__version__, lambda *_: None)
            return str(refused.value)
        finally:
            server.close()

    assert asyncio.run(main()) == said


def test_a_daemon_that_takes_the_connection_and_answers_nothing_is_a_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped (SIGSTOP) or stuck daemon: the kernel takes the connection, nobody answers."""
    monkeypatch.setattr(connection_module, "_HANDSHAKE_LIMIT_S", 0.5)

    async def main() -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()

        socket = tmp_path / "d.sock"
        server = await asyncio.start_unix_server(serve, path=str(socket))
        try:
            with pytest.raises(orchestrator.exceptions.TimeoutError) as waited:
                await Connection.open(str(socket), orchestrator.__version__, lambda *_: None)
            return str(waited.value)
        finally:
            server.close()

    said = asyncio.run(main())
    assert "did not answer" in said and "baton daemon stop" in said
