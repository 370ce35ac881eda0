"""The handshake's version check, against a daemon of another version. No such daemon
can be built from this tree, so a socket that answers `initialize` as an older daemon
would stands in for it, named by a stand-in for `baton daemon start --json`."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import threading
from pathlib import Path
from typing import Iterator

import pytest

import orchestrator
from conftest import REPOSITORY
from orchestrator import Orchestrator
from orchestrator.exceptions import OrchestrationError


def test_the_package_version_is_batons() -> None:
    cargo = (REPOSITORY / "Cargo.toml").read_text()
    found = re.search(r'\[workspace\.package\][^\[]*?version = "([^"]+)"', cargo, re.S)
    assert found, "the workspace's version in Cargo.toml"
    assert orchestrator.__version__ == found.group(1)


@pytest.fixture
def older_daemon(tmp_path: Path) -> Iterator[Path]:
    """A socket answering `initialize` as baton 0.0.1 would."""
    socket = tmp_path / "old.sock"
    loop = asyncio.new_event_loop()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = 0
        while (line := (await reader.readline()).strip()):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        request = json.loads(await reader.readexactly(length))
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {
            "capabilities": {}, "serverInfo": {"name": "batond", "version": "0.0.1"}}}).encode()
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    server = loop.run_until_complete(asyncio.start_unix_server(answer, path=str(socket)))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield socket
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    server.close()


def test_a_daemon_of_another_version_is_refused_saying_what_to_do(
    older_daemon: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = {"version": "0.0.1", "pid": 1, "workspace": str(tmp_path), "socket": str(older_daemon), "log_file": ""}
    cli = tmp_path / "baton"
    cli.write_text(f"#!/bin/sh\necho '{json.dumps(info)}'\n")
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BATON_CLI", str(cli))
    with pytest.raises(OrchestrationError) as refused:
        Orchestrator(working_directory=str(tmp_path))
    assert str(refused.value) == (
        f"the daemon runs baton 0.0.1 but this is baton-orchestrator {orchestrator.__version__}; "
        "run `baton daemon stop` and try again"
    )
