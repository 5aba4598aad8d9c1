"""Several worker processes serving one port: each binds its own listening socket
with ``SO_REUSEPORT`` (the kernel spreads new connections over them) and runs its
own event loop and server.

Theory of operation
-------------------
The supervisor binds the address first, without listening, so that ``port=0``
picks one port for every worker and nothing else can take it while workers
restart. It then starts the workers (``fork`` where the platform has it, so
``make_server`` may be any callable) and waits on their sentinels. A worker that
exits while the supervisor is running is logged and started again, after a
delay that doubles while workers keep dying young. On SIGTERM or SIGINT the
supervisor sends SIGTERM to every worker; a worker closes its server (close code
1001 to every client, ``Server.aclose``, bounded by ``close_timeout``) and exits;
one still alive ``close_timeout`` + 5 s later is killed.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ._server import Server  # noqa: F401  (what make_server gives)

__all__ = ["run_workers"]

logger = logging.getLogger("fastws.aio")

#: ``make_server(sock)`` builds a worker's server on its listening socket: a
#: ``Server`` not started yet (``serve(handler, sock=sock)``), or an async context
#: manager whose ``__aenter__`` gives one (to start and stop what the server uses,
#: such as a hub).
MakeServer = Callable[[socket.socket], Any]
_YOUNG = 1.0  # a worker that dies sooner than this after its start delays the next one


def reuseport_socket(host: str, port: int, listen: bool = True, backlog: int = 1024) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (POSIX)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("workers need SO_REUSEPORT, which this platform lacks")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def run_workers(
    make_server: MakeServer,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    workers: int = 2,
    close_timeout: float = 10.0,
    on_listening: Optional[Callable[[int], None]] = None,
) -> int:
    """Runs ``workers`` processes serving ``(host, port)`` until SIGTERM or SIGINT,
    restarting any that dies; returns 0 after a clean stop. ``make_server(sock)``
    runs in each worker (see ``MakeServer``); ``on_listening(port)`` is called in
    the supervisor once the port is bound (useful with ``port=0``). POSIX only."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    reserved = reuseport_socket(host, port, listen=False)
    port = reserved.getsockname()[1]
    # fork where there is one, so make_server may be any callable (a closure, a lambda).
    context: Any = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    running: Dict[int, Tuple[Any, float]] = {}  # slot -> (process, started at)
    delays = [0.0] * workers

    def start(slot: int) -> None:
        process = context.Process(
            target=_worker, args=(make_server, host, port, slot, close_timeout), name=f"fastws-worker-{slot}", daemon=False
        )
        process.start()
        running[slot] = (process, time.monotonic())

    try:
        for slot in range(workers):
            start(slot)
        logger.info("%d workers on %s:%d", workers, host, port)
        if on_listening is not None:
            on_listening(port)
        restart_at: Dict[int, float] = {}
        while not stopping:
            timeout = max(0.0, min(restart_at.values()) - time.monotonic()) if restart_at else 0.5
            ready = multiprocessing.connection.wait([process.sentinel for process, _ in running.values()], timeout=min(timeout, 0.5))
            now = time.monotonic()
            for slot, (process, started) in list(running.items()):
                if process.sentinel in ready and not stopping:
                    process.join()
                    del running[slot]
                    delays[slot] = min(max(delays[slot] * 2, 0.1), 5.0) if now - started < _YOUNG else 0.0
                    logger.warning(
                        "worker %d (pid %d) exited with code %s; restarting it in %.1f s", slot, process.pid, process.exitcode, delays[slot]
                    )
                    restart_at[slot] = now + delays[slot]
            for slot, when in list(restart_at.items()):
                if when <= now and not stopping:
                    del restart_at[slot]
                    start(slot)
                    logger.warning("worker %d restarted (pid %d)", slot, running[slot][0].pid)
    finally:
        for process, _ in running.values():
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + close_timeout + 5.0
        for process, _ in running.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("worker pid %d did not stop in time: killed", process.pid)
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        reserved.close()
    return 0


def _worker(make_server: MakeServer, host: str, port: int, slot: int, close_timeout: float) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    try:
        asyncio.run(_serve_worker(make_server, reuseport_socket(host, port), slot, close_timeout))
    except KeyboardInterrupt:
        pass


async def _serve_worker(make_server: MakeServer, sock: socket.socket, slot: int, close_timeout: float) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    made = make_server(sock)
    if asyncio.iscoroutine(made):
        made = await made
    async with made as server:
        server.close_timeout = min(server.close_timeout, close_timeout)
        logger.info("worker %d (pid %d) listening", slot, os.getpid())
        await stop
        # Leaving the block closes the server: 1001 to every client, bounded wait.
