"""Workers: ``python -m fastws echo --workers 2`` runs two processes on one port
(SO_REUSEPORT); a worker killed is logged and started again, and its clients can
reconnect; SIGTERM closes every client with 1001 and the whole tree exits in
bounded time."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from cli_helpers import Cli
from hub_helpers import until

from fastws import aio
from fastws.aio import ConnectionClosed

pytestmark = pytest.mark.skipif(not hasattr(__import__("socket"), "SO_REUSEPORT"), reason="workers need SO_REUSEPORT (POSIX)")


async def _echoes(ws: aio.WebSocket, message: str) -> bool:
    await ws.send(message)
    return await asyncio.wait_for(ws.recv(), 5) == message


def test_echo_workers_restart_and_shutdown(impl: Any) -> None:
    async def main() -> None:
        cli = Cli(impl, "echo", "--workers", "2", "--port", "0")
        try:
            port = await cli.start()
            await until(lambda: len(cli.workers()) == 2, what="two workers")
            url = f"ws://127.0.0.1:{port}/"
            clients = [await aio.connect(url, ping_interval=None, implementation=impl) for _ in range(24)]
            assert all([await _echoes(ws, f"m{index}") for index, ws in enumerate(clients)])

            # Kill worker 0: its clients lose their connection, the others keep theirs.
            first = cli.workers()
            os.kill(first[0], signal.SIGKILL)
            await until(lambda: cli.workers().get(0, first[0]) != first[0], what="the restart")
            assert cli.find(rf"worker 0 \(pid {first[0]}\) exited with code -9; restarting")
            assert cli.find(r"worker 0 restarted \(pid (\d+)\)")
            await until(lambda: any(ws.closed for ws in clients), what="the dead worker's clients to notice")
            await asyncio.sleep(0.2)
            lost = [ws for ws in clients if ws.closed]
            kept = [ws for ws in clients if not ws.closed]
            assert lost and kept, "with 24 clients both workers had some (SO_REUSEPORT spreads them)"
            assert all(ws.close_code == 1006 for ws in lost)
            assert all([await _echoes(ws, "still here") for ws in kept])
            # Their clients reconnect, to either worker.
            again = [await aio.connect(url, ping_interval=None, implementation=impl) for _ in lost]
            assert all([await _echoes(ws, "back") for ws in again])

            # SIGTERM: every client gets 1001, and everything exits, in bounded time.
            assert await cli.stop(timeout=20) == 0
            for ws in kept + again:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.code == 1001
            for pid in cli.workers().values():
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
        finally:
            cli.kill()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_workers_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        aio.run_workers(lambda sock: None, workers=0)


def test_chat_serves_its_installed_page() -> None:
    """``python -m fastws chat`` from wherever fastws is installed (the wheel check
    runs this against the wheel): the page, and a WebSocket at /ws."""

    async def main() -> None:
        cli = Cli(None, "chat", "--port", "0")
        try:
            port = await cli.start()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert response.startswith(b"HTTP/1.1 200 OK") and b"<title>fastws chat</title>" in response
            async with aio.connect(f"ws://127.0.0.1:{port}/ws") as ws:
                assert "you are guest-" in await asyncio.wait_for(ws.recv(), 10)
                await ws.send("hi")
                assert "joined" in await asyncio.wait_for(ws.recv(), 10)
                assert '"text": "hi"' in await asyncio.wait_for(ws.recv(), 10)
            assert await cli.stop(timeout=20) == 0
        finally:
            cli.kill()

    asyncio.run(asyncio.wait_for(main(), 60))
