"""Fan-out across instances through one Redis: one publisher, CLIENTS clients split
over two server processes, text messages of 16 B and 1 KiB, with and without
permessage-deflate offered. Contenders, each through its own publishing path:

- fastws: ``fastws.hub.Hub`` + ``RedisBackend`` in each server, ``Hub.publish`` in the publisher;
- socketio: python-socketio ``AsyncServer`` (aiohttp) + ``AsyncRedisManager``; the publisher
  is a write-only ``AsyncRedisManager`` emitting to everyone;
- broadcaster: ``websockets`` servers whose handlers iterate ``Broadcast.subscribe``;
  the publisher calls ``Broadcast.publish``.

    python bench/fanout.py [--clients 1000] [--only fastws,socketio,broadcaster] [--seconds 3]

The clients and the publisher run in this process; the clients are minimal (a
handshake, then fastws.FrameParser counts frames), the same for every contender;
one probe client per server (a fastws.aio client) reads timestamps for latency.
Throughput: the publisher keeps at most WINDOW messages ahead of the slower probe,
for --seconds; delivered/s counts frames at every client until they stop coming.
Latency: --rate messages a second (default 20) for --seconds, from a publisher in its
own process, p50/p99 from publish to the probes.
Server CPU: user+system seconds of both server processes during the throughput
phase, per delivered message. Starts its own redis-server on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from handshake import HOST, take_head, upgrade_request

CHANNEL = "fan"
WINDOW = 32
RATE = 20
CONTENDERS = ("fastws", "socketio", "broadcaster")


# -- servers (each in its own process: python bench/fanout.py --serve KIND PORT URL DEFLATE) --


async def serve_fastws(port: int, url: str, deflate: bool) -> None:
    from fastws.aio import serve
    from fastws.hub import Hub, RedisBackend

    async with Hub(RedisBackend(url)) as hub:

        async def handler(ws: Any) -> None:
            await hub.subscribe(ws, CHANNEL)
            try:
                await ws.wait_closed()
            finally:
                await hub.unsubscribe_all(ws)

        async with serve(handler, HOST, port, compression="deflate" if deflate else None, ping_interval=None, backlog=4096):
            await asyncio.Future()


async def serve_socketio(port: int, url: str, deflate: bool) -> None:
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(url), async_mode="aiohttp", ping_interval=600, ping_timeout=600)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port, backlog=4096).start()
    await asyncio.Future()


async def serve_broadcaster(port: int, url: str, deflate: bool) -> None:
    from broadcaster import Broadcast
    from websockets.asyncio.server import serve

    broadcast = Broadcast(url)
    await broadcast.connect()
    # broadcaster 0.3.1's Redis listener stops for good when its first SUBSCRIBE is
    # still under way (redis-py's listen() ends while nothing is subscribed yet): two
    # subscriptions held for the whole run get it listening, as its users' apps would be.
    held = [asyncio.Event() for _ in range(2)]

    async def hold(channel: str, ready: asyncio.Event) -> None:
        async with broadcast.subscribe(channel=channel):
            ready.set()
            await asyncio.Future()

    holders = []
    for index, ready in enumerate(held):
        holders.append(asyncio.create_task(hold(f"{CHANNEL}-idle-{index}", ready)))
        await ready.wait()
        await asyncio.sleep(0.1)

    async def handler(ws: Any) -> None:
        async with broadcast.subscribe(channel=CHANNEL) as subscriber:
            async for event in subscriber:
                await ws.send(event.message)

    async with serve(handler, HOST, port, compression="deflate" if deflate else None, ping_interval=None, backlog=4096):
        await asyncio.Future()


# -- publishers ----------------------------------------------------------------------


class Publisher:
    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        self.impl: Any = None

    async def start(self) -> None:
        if self.kind == "fastws":
            from fastws.hub import Hub, RedisBackend

            self.impl = await Hub(RedisBackend(self.url)).start()
        elif self.kind == "socketio":
            import socketio

            self.impl = socketio.AsyncRedisManager(self.url, write_only=True)
        else:
            from broadcaster import Broadcast

            self.impl = Broadcast(self.url)
            await self.impl.connect()

    async def publish(self, message: str) -> None:
        if self.kind == "fastws":
            self.impl.publish(CHANNEL, message)
        elif self.kind == "socketio":
            await self.impl.emit("m", message, namespace="/")
        else:
            await self.impl.publish(CHANNEL, message)

    async def close(self) -> None:
        if self.kind == "fastws":
            await self.impl.aclose()
        elif self.kind == "broadcaster":
            await self.impl.disconnect()


# -- clients -----------------------------------------------------------------------------


class Counter(asyncio.Protocol):
    """A WebSocket client that only counts the frames it receives."""

    def __init__(self, path: str, deflate: bool, socketio: bool, opened: "asyncio.Future[None]") -> None:
        import fastws

        self.path, self.deflate, self.socketio, self.opened = path, deflate, socketio, opened
        self.parser = fastws.FrameParser("client", max_frame_size=None, allow_rsv1=True)
        self.head: Optional[bytearray] = bytearray()
        self.frames = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(upgrade_request(self.path, "permessage-deflate; client_max_window_bits" if self.deflate else ""))

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            whole = take_head(self.head, data)
            if whole is None:
                return
            head, data = whole
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(head[:200].decode(errors="replace")))
                return
            self.head = None
            if self.socketio:
                import fastws

                self.transport.write(fastws.encode_frame(fastws.Opcode.TEXT, b"40", mask=os.urandom(4)))
            self.opened.set_result(None)
        self.frames += len(self.parser.feed(data))


class Probe:
    """A fastws.aio client that reads each message's timestamp."""

    def __init__(self, ws: Any, socketio: bool) -> None:
        self.ws, self.socketio = ws, socketio
        self.received = 0
        self.latencies: List[float] = []
        self.recording = False
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        async for message in self.ws:
            if self.socketio:
                if not message.startswith("42"):
                    continue
                message = json.loads(message[2:])[1]
            if self.recording:
                self.latencies.append((time.monotonic_ns() % 10**16 - int(message[:16])) / 1e6)
            self.received += 1
            self.changed.set()


async def paced_publisher(kind: str, url: str, size: str, rate: str, seconds: str) -> None:
    publisher = Publisher(kind, url)
    await publisher.start()
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < float(seconds):
        await publisher.publish(payload(int(size)))
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / float(rate) - time.perf_counter()))
    await asyncio.sleep(0.2)  # let a queued publish go out
    await publisher.close()


def payload(size: int) -> str:
    return f"{time.monotonic_ns() % 10**16:016d}" + "x" * (size - 16)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.returncode}")
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def run_case(kind: str, url: str, clients: int, size: int, deflate: bool, seconds: float, rate: float = RATE) -> Dict[str, Any]:
    from fastws import aio

    ports = [free_port(), free_port()]
    servers = [subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port), url, str(int(deflate))]) for port in ports]
    counters: List[Counter] = []
    probes: List[Probe] = []
    publisher = Publisher(kind, url)
    try:
        for port, server in zip(ports, servers):
            await wait_port(port, server)
        path = "/socket.io/?EIO=4&transport=websocket" if kind == "socketio" else "/"
        loop = asyncio.get_running_loop()
        for index in range(clients):
            opened: asyncio.Future[None] = loop.create_future()
            _, counter = await loop.create_connection(lambda: Counter(path, deflate, kind == "socketio", opened), HOST, ports[index % 2])
            await opened
            counters.append(counter)  # type: ignore[arg-type]
        for port in ports:
            ws = await aio.connect(
                f"ws://{HOST}:{port}{path}", compression="deflate" if deflate else None, ping_interval=None, max_message_size=None
            )
            if kind == "socketio":
                await ws.send("40")
            probes.append(Probe(ws, kind == "socketio"))
        await publisher.start()
        # Warm up until both probes hear the publisher (every subscription is in place).
        for _ in range(200):
            await publisher.publish(payload(size))
            await asyncio.sleep(0.02)
            if all(probe.received for probe in probes):
                break
        else:
            raise RuntimeError("the probes hear nothing")
        await asyncio.sleep(0.5)
        baseline = sum(counter.frames for counter in counters)
        cpu_before = [cpu_seconds(server.pid) for server in servers]
        base_received = [probe.received for probe in probes]

        # Throughput: at most WINDOW messages ahead of the slower probe.
        started = time.perf_counter()
        published = 0
        while time.perf_counter() - started < seconds:
            while published - min(probe.received - base for probe, base in zip(probes, base_received)) >= WINDOW:
                slower = min(probes, key=lambda probe: probe.received)
                slower.changed.clear()
                try:
                    await asyncio.wait_for(slower.changed.wait(), 5)
                except asyncio.TimeoutError:
                    break
            await publisher.publish(payload(size))
            published += 1
        expected = baseline + published * (clients + 0)
        last, last_change = -1, time.perf_counter()
        while True:
            total = sum(counter.frames for counter in counters)
            if total != last:
                last, last_change = total, time.perf_counter()
            if total >= expected or time.perf_counter() - last_change > 3:
                break
            await asyncio.sleep(0.01)
        elapsed = last_change - started
        delivered = last - baseline
        cpu = sum(cpu_seconds(server.pid) for server in servers) - sum(cpu_before)

        # Latency at a fixed, modest rate, from a publisher in its own process (in
        # this one, busy with a thousand sockets, its sends would wait their turn).
        await asyncio.sleep(0.5)
        for probe in probes:
            probe.recording = True
        paced = await asyncio.create_subprocess_exec(sys.executable, __file__, "--publish", kind, url, str(size), str(rate), str(seconds))
        await paced.wait()
        await asyncio.sleep(1.0)
        latencies = sorted(latency for probe in probes for latency in probe.latencies)
        return {
            "contender": kind,
            "size": size,
            "deflate": deflate,
            "published": published,
            "delivered": delivered,
            "expected": published * clients,
            "delivered_per_s": delivered / elapsed,
            "server_cpu_us_per_delivery": 1e6 * cpu / max(delivered, 1),
            "p50_ms": statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
            "latency_samples": len(latencies),
        }
    finally:
        for counter in counters:
            counter.transport.abort()
        for probe in probes:
            probe.task.cancel()
            probe.ws.transport.abort()
        try:
            await publisher.close()
        except Exception:
            pass
        for server in servers:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", nargs=4, metavar=("KIND", "PORT", "URL", "DEFLATE"), help=argparse.SUPPRESS)
    parser.add_argument("--publish", nargs=5, metavar=("KIND", "URL", "SIZE", "RATE", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--sizes", default="16,1024")
    parser.add_argument("--deflate", default="off,on")
    parser.add_argument("--rate", type=float, default=RATE, help="messages a second in the latency phase")
    parser.add_argument("--json", metavar="FILE")
    arguments = parser.parse_args()
    if arguments.publish:
        asyncio.run(paced_publisher(*arguments.publish))
        return
    if arguments.serve:
        kind, port, url, deflate = arguments.serve
        try:
            asyncio.run(globals()[f"serve_{kind}"](int(port), url, deflate == "1"))
        except KeyboardInterrupt:
            pass
        return

    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    url = f"redis://{HOST}:{port}/0"
    results = []
    try:
        time.sleep(0.5)
        print(
            f"{'contender':<12} {'size':>5} {'deflate':>7} {'published':>9} {'delivered/s':>12} {'of expected':>11} {'srv µs/msg':>10} {'p50 ms':>8} {'p99 ms':>8}",  # noqa: E501
            flush=True,
        )
        for deflate in [mode == "on" for mode in arguments.deflate.split(",")]:
            for size in [int(size) for size in arguments.sizes.split(",")]:
                for kind in arguments.only.split(","):
                    row = asyncio.run(run_case(kind, url, arguments.clients, size, deflate, arguments.seconds, arguments.rate))
                    results.append(row)
                    print(
                        f"{kind:<12} {size:>5} {'on' if deflate else 'off':>7} {row['published']:>9} {row['delivered_per_s']:>12,.0f} "
                        f"{row['delivered'] / max(row['expected'], 1):>10.1%} {row['server_cpu_us_per_delivery']:>10.2f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}",  # noqa: E501
                        flush=True,
                    )
    finally:
        redis.kill()
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
