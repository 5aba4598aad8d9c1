"""Threaded echo: one asyncio event loop per thread, each with its own fastws.aio echo
server and a client that keeps a window of messages in flight to it, over loopback.
Messages per second over all threads, at 1 thread and at N.

    python bench/threaded_echo.py [--threads 1,2] [--seconds 3] [--size 16] [--window 32]

On a free-threaded interpreter (3.14t) the loops run in parallel and the figure scales
with threads, up to the cores; with the GIL it stays at one core's worth. Nothing is
shared between the loops but the process (the fastws objects are per connection).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import sysconfig
import threading
import time
from typing import List

import fastws
import fastws.aio


async def _echo(ws: fastws.aio.WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def _one_loop(seconds: float, size: int, window: int, start: threading.Barrier, counts: List[int], index: int) -> None:
    payload = b"x" * size
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    async with fastws.aio.serve(_echo, sock=sock, compression=None):
        async with fastws.aio.connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            for _ in range(window):
                await ws.send(payload)
            await asyncio.to_thread(start.wait)
            done = 0
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                assert await ws.recv() == payload
                await ws.send(payload)
                done += 1
            for _ in range(window):
                await ws.recv()
    counts[index] = done


def run(threads: int, seconds: float, size: int, window: int) -> float:
    counts = [0] * threads
    start = threading.Barrier(threads)
    workers = [
        threading.Thread(target=asyncio.run, args=(_one_loop(seconds, size, window, start, counts, index),)) for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=16, help="message size in bytes (default 16)")
    parser.add_argument("--window", type=int, default=32, help="messages in flight per connection (default 32)")
    args = parser.parse_args()
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    build = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL"
    print(f"CPython {sys.version.split()[0]} ({build} build, GIL {'on' if gil else 'off'}), fastws {fastws.implementation}")
    print(f"{args.size} B binary messages, {args.window} in flight per connection, {args.seconds:g} s")
    baseline = None
    for threads in (int(n) for n in args.threads.split(",")):
        rate = run(threads, args.seconds, args.size, args.window)
        baseline = baseline or rate
        print(f"  {threads} thread(s): {rate:>10,.0f} msgs/s  ({rate / baseline:.2f}x)")


if __name__ == "__main__":
    main()
