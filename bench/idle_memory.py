"""Server memory per idle connection: 10,000 WebSocket connections opened and
left idle on each echo server of bench/echo_servers.py (fastws, websockets,
picows), in one run; the server's RSS growth divided by the count.

    python bench/idle_memory.py [--connections 10000] [--only fastws,websockets,picows]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List

from handshake import HOST, upgrade_request

HERE = Path(__file__).resolve().parent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Idle(asyncio.Protocol):
    def __init__(self, opened: "asyncio.Future[None]") -> None:
        self.opened, self.head = opened, b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(upgrade_request())

    def data_received(self, data: bytes) -> None:
        self.head += data
        if not self.opened.done() and b"\r\n\r\n" in self.head:
            self.opened.set_result(None) if self.head.startswith(b"HTTP/1.1 101") else self.opened.set_exception(
                RuntimeError(self.head[:100])
            )


async def open_all(port: int, count: int) -> List[Any]:
    loop = asyncio.get_running_loop()
    transports = []
    for start in range(0, count, 200):
        batch = []
        for _ in range(min(200, count - start)):
            opened: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(lambda: Idle(opened), HOST, port)
            transports.append(transport)
            batch.append(opened)
        await asyncio.gather(*batch)
    return transports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--only", default="fastws,websockets,picows")
    arguments = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{'server':<12} {'connections':>11} {'RSS before':>11} {'RSS after':>10} {'per connection':>15}")
    for kind in arguments.only.split(","):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, str(HERE / "echo_servers.py"), kind, str(port)],
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)),
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.5)
            before = rss_kib(server.pid)

            async def run() -> int:
                transports = await open_all(port, arguments.connections)
                await asyncio.sleep(1.0)
                after = rss_kib(server.pid)
                for transport in transports:
                    transport.abort()
                return after

            after = asyncio.run(run())
            print(
                f"{kind:<12} {arguments.connections:>11} {before:>8} KiB {after:>7} KiB {(after - before) * 1024 / arguments.connections:>11,.0f} B",
                flush=True,
            )
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
