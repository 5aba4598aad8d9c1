"""Hostile clients against echo servers over loopback: what each server's memory,
CPU and loop do under attack, fastws next to its peers in one run.

    python bench/attack.py [--seconds 10] [--only fastws-task,websockets,ping-flood] [--json FILE]

Servers, each in its own process and at its defaults: ``python -m fastws echo``
(fastws-task, and fastws-pure with FASTWS_NO_EXTENSIONS=1), and the echo servers of
websockets, picows and aiohttp (bench/echo_servers.py --defaults). This process
attacks; a server is started afresh for each attack. Attacks:

- ping-flood: 50 clients send pings as fast as the server takes them and never read.
- fragment-flood: 200 clients each send one message as endless 1-byte fragments
  (a client the server closes reconnects and starts again).
- slow-readers: 100 clients send 64 KiB messages and never read the echoes.
- half-open: one client completes the handshake, then neither answers nor writes
  (it reads, to see the end): is it dropped, after how long, with which code.
  One run for all servers at once, up to --half-open-seconds.
- shutdown: SIGTERM a few seconds into a fragment flood that goes on: time to exit
  (at most --shutdown-cap, then SIGKILL).

Figures: server RSS growth (/proc/PID/status) at 10 s (or at the end of a shorter
attack) and at the peak (VmHWM, reset before the attack); server CPU time
(/proc/PID/stat utime+stime) during the attack divided by the frames the server
read (what the attackers wrote less what still waits in the kernel's socket
queues, which grow to megabytes per connection on loopback); whether a new client
completes a handshake and an echo within 1 s, halfway through the attack ("during") and once the attackers have gone ("after"), with the
time it took (a probe gives up after --probe-cap seconds). Loopback only; the
attacks are bounded in clients and time. Peers run under $BENCH_PEERS_PYTHON
(default: this interpreter).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from echo import MASK, Server, connect, frame

KINDS = ["fastws-task", "fastws-pure", "websockets", "picows", "aiohttp"]
ATTACKS = ["ping-flood", "fragment-flood", "slow-readers", "half-open", "shutdown"]
FASTWS_ECHO = ["-m", "fastws", "echo"]
TICK = os.sysconf("SC_CLK_TCK")
MiB = 1 << 20
SIOCOUTQNSD = 0x894B  # linux/sockios.h: bytes in a socket's send queue not sent yet


def launch(kind: str, peers_python: str) -> Tuple[Optional[subprocess.Popen], int, str]:
    """``kind`` at its defaults: its process (None if it did not start), port, and why not."""
    if kind.startswith("fastws"):
        server = Server(kind, "asyncio", peers_python, command=FASTWS_ECHO)
    else:
        server = Server(kind, "asyncio", peers_python, "--defaults")
    if server.problem:
        return None, 0, server.problem
    return server.process, server.port, ""


class Watch:
    """A server process seen from /proc: RSS growth and CPU time since ``__init__``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as file:
                file.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass
        self.rss0 = self.status("VmRSS")
        self.cpu0 = self.cpu()
        self.peak = 0

    def status(self, field: str) -> int:
        """``field`` of /proc/PID/status, in bytes (0 once the process is gone)."""
        try:
            with open(f"/proc/{self.pid}/status") as file:
                for line in file:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cpu(self) -> float:
        try:
            with open(f"/proc/{self.pid}/stat") as file:
                fields = file.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

    def growth(self) -> int:
        rss = self.status("VmRSS")
        self.peak = max(self.peak, rss - self.rss0, self.status("VmHWM") - self.rss0)
        return rss - self.rss0


def unread(port: int, socks: List[socket.socket]) -> int:
    """Bytes sent to ``port`` that its process has not read yet: the receive queues
    of its connections (/proc/net/tcp) and what ``socks`` hold unsent (SIOCOUTQNSD).
    Loopback buffers grow to megabytes per connection, so what the attackers wrote
    is not what the server took."""
    total = 0
    with open("/proc/net/tcp") as file:
        next(file)
        for line in file:
            fields = line.split()
            if int(fields[1].rpartition(":")[2], 16) == port and fields[3] != "0A":  # not the listener
                total += int(fields[4].partition(":")[2], 16)
    for sock in socks:
        try:
            total += struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, b"\0\0\0\0"))[0]
        except OSError:
            pass
    return total


class Client:
    def __init__(self, sock: socket.socket, out: bytes) -> None:
        self.sock = sock
        self.out = memoryview(out)
        self.sent = 0
        self.inbox = b""


class Flood:
    """``count`` clients, each sending ``opening`` then ``block`` over and over, on
    non-blocking sockets; a client whose connection ends reconnects. ``read``: the
    clients read what the server sends (the close code it ends with is kept)."""

    def __init__(self, port: int, count: int, opening: bytes, block: bytes, read: bool) -> None:
        self.port, self.opening, self.block, self.read = port, opening, block, read
        self.selector = selectors.DefaultSelector()
        self.sent = 0
        self.ends: Dict[str, int] = {}
        self.refused = 0
        self.retry_at: List[float] = []
        self.rejoin = True  # a client whose connection ends opens another
        for _ in range(count):
            self.join()

    def join(self) -> None:
        try:
            sock = connect(self.port, True, timeout=1)
        except OSError:
            self.refused += 1
            self.retry_at.append(time.monotonic() + 0.5)
            return
        sock.setblocking(False)
        client = Client(sock, self.opening + self.block)
        self.selector.register(sock, selectors.EVENT_WRITE | (selectors.EVENT_READ if self.read else 0), client)

    def end(self, client: Client, how: str) -> None:
        if client.inbox[:1] == b"\x88" and len(client.inbox) >= 4:
            how = str(int.from_bytes(client.inbox[2:4], "big"))
        self.ends[how] = self.ends.get(how, 0) + 1
        self.selector.unregister(client.sock)
        client.sock.close()
        self.retry_at.append(time.monotonic())

    def run(self, until: Callable[[], bool], tick: Callable[[], None]) -> None:
        block = memoryview(self.block)
        while not until():
            for key, events in self.selector.select(0.05):
                client: Client = key.data
                try:
                    if events & selectors.EVENT_READ:
                        data = client.sock.recv(65536)
                        if not data:
                            self.end(client, "EOF")
                            continue
                        if len(client.inbox) < 16:
                            client.inbox += data[:16]
                    if events & selectors.EVENT_WRITE:
                        count = client.sock.send(client.out)
                        self.sent += count
                        client.out = client.out[count:] or block
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as error:
                    self.end(client, errno.errorcode.get(error.errno or 0, "error"))
            now = time.monotonic()
            due = [at for at in self.retry_at if at <= now][:5]  # a handshake blocks: a few a turn
            if due and self.rejoin:
                for at in due:
                    self.retry_at.remove(at)
                    self.join()
            tick()

    def sockets(self) -> List[socket.socket]:
        return [key.fileobj for key in self.selector.get_map().values()]  # type: ignore[misc]

    def close(self) -> None:
        if self.selector.get_map() is None:
            return  # closed already
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def probe(port: int, cap: float) -> Optional[float]:
    """Seconds for a new client's handshake and one echo, or None if not within ``cap``."""
    started = time.monotonic()
    message = b"are you there?"
    expected = frame(message, None, opcode=0x1)
    try:
        with connect(port, True, timeout=cap) as sock:
            sock.sendall(frame(message, MASK, opcode=0x1))
            got = b""
            while len(got) < len(expected):
                remaining = started + cap - time.monotonic()
                if remaining <= 0:
                    return None
                sock.settimeout(remaining)
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                got += chunk
            if got[: len(expected)] != expected:
                return None
    except OSError:
        return None
    return time.monotonic() - started


class Probe(threading.Thread):
    def __init__(self, port: int, cap: float) -> None:
        super().__init__(daemon=True)
        self.port, self.cap = port, cap
        self.result: Optional[float] = None

    def run(self) -> None:
        self.result = probe(self.port, self.cap)


def served(result: Optional[float], cap: float) -> str:
    if result is None:
        return f"no (>{cap:g} s)"
    return f"{'yes' if result < 1 else 'no'} {result:.2f} s"


FLOODS = {
    # name: (clients, opening, repeated block, frame size, the clients read)
    "ping-flood": (50, b"", frame(b"ping", MASK, opcode=0x9) * 6000, len(frame(b"ping", MASK, opcode=0x9)), False),
    "fragment-flood": (
        200,
        frame(b"x", MASK, fin=False),
        frame(b"x", MASK, opcode=0x0, fin=False) * 9000,
        len(frame(b"x", MASK, opcode=0x0, fin=False)),
        True,
    ),
    "slow-readers": (100, b"", frame(bytes(65536), MASK), len(frame(bytes(65536), MASK)), False),
}


def flood(kind: str, attack: str, arguments: argparse.Namespace, peers_python: str) -> Dict[str, Any]:
    """One flood against a fresh server: memory, CPU per frame, service during and after."""
    process, port, problem = launch(kind, peers_python)
    if process is None:
        return {"error": problem}
    count, opening, block, size, read = FLOODS[attack]
    seconds = arguments.seconds
    result: Dict[str, Any] = {}
    watch = Watch(process.pid)
    attackers = Flood(port, count, opening, block, read)
    began = time.monotonic()
    at10 = min(10.0, seconds)
    during = Probe(port, arguments.probe_cap)

    def tick() -> None:
        elapsed = time.monotonic() - began
        growth = watch.growth()
        if "rss_10s" not in result and elapsed >= at10:
            result["rss_10s"] = growth
        if not during.is_alive() and during.ident is None and elapsed >= seconds / 2:
            during.start()

    try:
        attackers.run(lambda: time.monotonic() - began >= seconds, tick)
        result.setdefault("rss_10s", watch.growth())
        result["cpu_s"] = watch.cpu() - watch.cpu0
        result["frames"] = (attackers.sent - unread(port, attackers.sockets())) // size
        result["cpu_per_frame_us"] = result["cpu_s"] / max(result["frames"], 1) * 1e6
        result["ends"] = attackers.ends
        result["refused"] = attackers.refused
        during.join()
        result["during_s"] = during.result
        attackers.close()
        result["after_s"] = probe(port, arguments.probe_cap)
        watch.growth()
        result["rss_peak"] = watch.peak
        result["alive"] = process.poll() is None
    finally:
        attackers.close()
        process.kill()
        process.wait()
    return result


def shutdown(kind: str, arguments: argparse.Namespace, peers_python: str) -> Dict[str, Any]:
    """SIGTERM during a fragment flood that goes on: seconds until the process exits."""
    process, port, problem = launch(kind, peers_python)
    if process is None:
        return {"error": problem}
    count, opening, block, _, read = FLOODS["fragment-flood"]
    attackers = Flood(port, count, opening, block, read)
    began = time.monotonic()
    lead = min(5.0, arguments.seconds / 2)
    try:
        attackers.run(lambda: time.monotonic() - began >= lead, lambda: None)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        attackers.rejoin = False  # those the server closes stay away
        attackers.run(lambda: process.poll() is not None or time.monotonic() - signalled >= arguments.shutdown_cap, lambda: None)
        exited = process.poll() is not None
        return {"exit_s": time.monotonic() - signalled if exited else None, "returncode": process.returncode}
    finally:
        attackers.close()
        process.kill()
        process.wait()


def half_open(kinds: List[str], arguments: argparse.Namespace, peers_python: str) -> Dict[str, Dict[str, Any]]:
    """One silent client per server, all at once: when does each server drop it?"""
    results: Dict[str, Dict[str, Any]] = {}
    running = []
    try:
        for kind in kinds:
            process, port, problem = launch(kind, peers_python)
            if process is None:
                results[kind] = {"error": problem}
                continue
            sock = connect(port, True)
            sock.setblocking(False)
            running.append((kind, process, sock, time.monotonic()))
            results[kind] = {"dropped_s": None, "code": None}
        selector = selectors.DefaultSelector()
        for kind, _process, sock, opened in running:
            selector.register(sock, selectors.EVENT_READ, (kind, opened, bytearray()))
        deadline = time.monotonic() + arguments.half_open_seconds
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(0.5):
                kind, opened, inbox = key.data
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                inbox += data
                if not data:
                    results[kind] = {"dropped_s": time.monotonic() - opened, "code": close_code(bytes(inbox))}
                    selector.unregister(key.fileobj)
        selector.close()
    finally:
        for _, process, sock, _ in running:
            sock.close()
            process.kill()
            process.wait()
    return results


def close_code(data: bytes) -> Optional[int]:
    """The code of the first close frame in a server's (unmasked) frames, if any."""
    while len(data) >= 2:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        start = 2 + (2 if length == 126 else 8 if length == 127 else 0)
        if length >= 126:
            length = int.from_bytes(data[2:start], "big")
        if opcode == 0x8:
            return int.from_bytes(data[start : start + 2], "big") if length >= 2 else 1005
        data = data[start + length :]
    return None


def mib(size: Optional[int]) -> str:
    return "-" if size is None else f"{size / MiB:+.1f}"


def table(results: Dict[str, Dict[str, Dict[str, Any]]], kinds: List[str], attacks: List[str], arguments: argparse.Namespace) -> None:
    cap = arguments.probe_cap
    for attack in attacks:
        rows = {kind: results[kind][attack] for kind in kinds if attack in results.get(kind, {})}
        if not rows:
            continue
        print()
        if attack in FLOODS:
            count = FLOODS[attack][0]
            unit = {"ping-flood": "ping", "fragment-flood": "fragment", "slow-readers": "message"}[attack]
            print(
                f"{attack}: {count} clients, {arguments.seconds:g} s; RSS growth in MiB; server CPU per {unit} it read; a new client's handshake+echo"
            )
            print(
                f"{'server':<12}{'RSS@10s':>9}{'peak':>9}{'µs/' + unit:>14}{'frames read':>12}{'during':>16}{'after':>16}  connections ended (how: count)"
            )
            for kind, row in rows.items():
                if "error" in row:
                    print(f"{kind:<12}  missing: {row['error']}")
                    continue
                ends = ", ".join(f"{how}: {n}" for how, n in sorted(row["ends"].items())) or "-"
                print(
                    f"{kind:<12}{mib(row.get('rss_10s')):>9}{mib(row['rss_peak']):>9}{row['cpu_per_frame_us']:>14.2f}{row['frames']:>12,}"
                    f"{served(row['during_s'], cap):>16}{served(row['after_s'], cap):>16}  {ends}{'' if row['alive'] else '  (server died)'}"
                )
        else:
            if attack == "half-open":
                print(f"half-open: a client that goes silent after its handshake; watched {arguments.half_open_seconds:g} s")
            else:
                print(f"shutdown: SIGTERM {min(5.0, arguments.seconds / 2):g} s into a fragment flood by 200 clients that goes on")
            for kind, row in rows.items():
                print(f"{kind:<12}  {outcome(attack, row, arguments)}")


def outcome(attack: str, row: Dict[str, Any], arguments: argparse.Namespace) -> str:
    """How one server came out of the half-open or the shutdown attack."""
    if "error" in row:
        return f"missing: {row['error']}"
    if attack == "half-open":
        if row["dropped_s"] is None:
            return f"kept (>{arguments.half_open_seconds:g} s)"
        return f"dropped after {row['dropped_s']:.1f} s, close code {row['code'] or 'none'}"
    if row["exit_s"] is None:
        return f"still running after {arguments.shutdown_cap:g} s (killed)"
    return f"exited after {row['exit_s']:.2f} s (status {row['returncode']})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per flood (default 10)")
    parser.add_argument("--only", help="comma-separated servers and/or attacks: " + ",".join(KINDS + ATTACKS))
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--probe-cap", type=float, default=5.0, help="a new client waits at most this long (default 5)")
    parser.add_argument("--half-open-seconds", type=float, default=45.0, help="how long a silent client is watched (default 45)")
    parser.add_argument("--shutdown-cap", type=float, default=30.0, help="how long a server may take to exit (default 30)")
    arguments = parser.parse_args()
    only = arguments.only.split(",") if arguments.only else []
    unknown = [name for name in only if name not in KINDS + ATTACKS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}")
    kinds = [kind for kind in KINDS if kind in only] or KINDS
    attacks = [attack for attack in ATTACKS if attack in only] or ATTACKS
    peers_python = os.environ.get("BENCH_PEERS_PYTHON", sys.executable)
    results: Dict[str, Dict[str, Dict[str, Any]]] = {kind: {} for kind in kinds}
    for attack in attacks:
        if attack == "half-open":
            for kind, row in half_open(kinds, arguments, peers_python).items():
                results[kind][attack] = row
        for kind in kinds if attack != "half-open" else ():
            print(f"{attack} against {kind} ...", file=sys.stderr, flush=True)
            results[kind][attack] = (
                shutdown(kind, arguments, peers_python) if attack == "shutdown" else flood(kind, attack, arguments, peers_python)
            )
    table(results, kinds, attacks, arguments)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
