"""Echo messages per second from ``python -m fastws echo --workers N``, N = 1 and 2,
under one load generator in this process (asyncio, CONNECTIONS connections, each
with WINDOW pre-encoded masked 16 B frames in flight, refilled as echoes arrive).

    python bench/workers.py [--seconds 3] [--connections 16] [--workers 1,2]

The load generator is itself a process on the same machine: on 2 cores it takes
one, so two workers share what is left with it (see the figures' note).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import time
from typing import Any, List

from handshake import HOST, take_head, upgrade_request

import fastws

WINDOW = 64
FRAME = fastws.encode_frame(fastws.Opcode.BINARY, b"x" * 16, mask=b"\x5a\x13\xc7\x9e")


class Load(asyncio.Protocol):
    def __init__(self, opened: "asyncio.Future[None]") -> None:
        self.opened = opened
        self.parser = fastws.FrameParser("client", max_frame_size=None)
        self.head: Any = bytearray()
        self.echoed = 0
        self.running = True

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(upgrade_request())

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            whole = take_head(self.head, data)
            if whole is None:
                return
            data, self.head = whole[1], None
            self.opened.set_result(None)
            self.transport.write(FRAME * WINDOW)
        count = len(self.parser.feed(data))
        self.echoed += count
        if count and self.running:
            self.transport.write(FRAME * count)


async def measure(port: int, connections: int, seconds: float) -> float:
    loop = asyncio.get_running_loop()
    loads: List[Load] = []
    for _ in range(connections):
        opened: asyncio.Future[None] = loop.create_future()
        _, load = await loop.create_connection(lambda: Load(opened), HOST, port)
        await opened
        loads.append(load)  # type: ignore[arg-type]
    await asyncio.sleep(0.5)
    before, started = sum(load.echoed for load in loads), time.perf_counter()
    await asyncio.sleep(seconds)
    rate = (sum(load.echoed for load in loads) - before) / (time.perf_counter() - started)
    for load in loads:
        load.running = False
        load.transport.abort()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    for workers in [int(value) for value in arguments.workers.split(",")]:
        server = subprocess.Popen(
            [sys.executable, "-m", "fastws", "echo", "--port", "0", "--no-compression", "--workers", str(workers)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline()  # type: ignore[union-attr]
            port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
            time.sleep(1.0)
            rates = sorted(asyncio.run(measure(port, arguments.connections, arguments.seconds)) for _ in range(arguments.repeat))
            print(
                f"workers={workers}: {rates[len(rates) // 2]:,.0f} echoes/s (median of {arguments.repeat}; all: {', '.join(f'{rate:,.0f}' for rate in rates)})",
                flush=True,
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
