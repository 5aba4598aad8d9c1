"""Echo benchmark: every WebSocket server and API, and two raw TCP echoes, under the
same cheap load generator, over loopback, on asyncio's default loop and on uvloop, in
one run.

    python bench/echo.py [--seconds 1] [--rounds 1] [--loops asyncio,uvloop]
                         [--only fastws-task,picows,...] [--json FILE]

Each server runs in its own process (bench/echo_servers.py, which lists them); this
process is the load generator: one connection, pre-encoded masked frames, every echoed
byte compared with the frame the server must send back.

- 64 in flight (refilled by halves): messages/s at 16 B, 1 KiB, 1 KiB text (UTF-8,
  mostly ASCII, a multi-byte character every 64), 64 KiB and 1 MiB; binary but for text.
  The rate is the median over ten slices of the measured time (the mean when there
  are too few messages to slice).
- One in flight: the median round trip at 16 B, 1 KiB and 64 KiB (binary), and over the
  same round trips the server's CPU time per message (user + system time of the server
  process, from /proc/PID/stat, divided by the messages echoed) and, on asyncio's own
  loop, its event loop turns per message (counted in the server: echo_servers.py).

Then the same figures relative to picows' core API and to websockets on the same loop,
as speed-ups: above 1.00 is faster (more messages/s, shorter round trips, less CPU).
Compression is off everywhere. The blocking-socket echo runs no loop, so it is measured
once and shown under each loop. With ``--rounds N`` every server is measured N times,
in a rotating order, and each figure is the median of its rounds. Peers run under
$BENCH_PEERS_PYTHON (default: this interpreter); a server whose library, API or loop
does not import is reported as missing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
from echo_servers import LOOPLESS, MISSING, SERVERS  # noqa: E402

KINDS = list(SERVERS)
LOOPS = ["asyncio", "uvloop"]
BASELINES = ["picows", "websockets"]
WINDOW = 64
#: 64 in flight: (figure name, column label, payload bytes, text?)
THROUGHPUT = [
    ("msgs_16", "16 B", 16, False),
    ("msgs_1024", "1 KiB", 1024, False),
    ("msgs_1024_text", "1 KiB txt", 1024, True),
    ("msgs_65536", "64 KiB", 65536, False),
    ("msgs_1048576", "1 MiB", 1 << 20, False),
]
ROUND_TRIP = [16, 1024, 65536]
MASK = b"\x5a\x13\xc7\x9e"
WARM_SECONDS = 0.25
SLICES = 10
SLICE_MESSAGES = 20


def frame(payload: bytes, mask: Optional[bytes], opcode: int = 0x2, fin: bool = True) -> bytes:
    """A frame (RFC 6455 §5.2; binary and final unless told), masked when ``mask`` is given."""
    length = len(payload)
    first = opcode | (0x80 if fin else 0)
    bit = 0x80 if mask else 0
    if length < 126:
        head = bytes([first, length | bit])
    elif length < 65536:
        head = bytes([first, 126 | bit]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, 127 | bit]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = int.from_bytes(mask * (length // 4 + 1), "little")
    masked = (int.from_bytes(payload, "little") ^ key).to_bytes(length + 4, "little")[:length] if length else b""
    return head + mask + masked


def text_payload(size: int) -> bytes:
    """``size`` bytes of UTF-8: ASCII with a 2-, 3- or 4-byte character every 64."""
    rng = random.Random(size)
    ascii_chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:{}"'
    wide = ["é", "€", "😀"]
    out = bytearray()
    while len(out) < size:
        char = rng.choice(wide).encode() if len(out) % 64 >= 60 else rng.choice(ascii_chars).encode()
        if len(out) + len(char) > size:
            char = b"x"
        out += char
    payload = bytes(out)
    payload.decode("utf-8")
    return payload


def messages(size: int, text: bool, websocket: bool) -> Tuple[bytes, bytes]:
    """The frame to send and the bytes the server must send back."""
    payload = text_payload(size) if text else os.urandom(size)
    opcode = 0x1 if text else 0x2
    request = frame(payload, MASK, opcode)
    return request, frame(payload, None, opcode) if websocket else request


def connect(port: int, websocket: bool, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("no handshake answer")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        if not head.endswith(b"\r\n\r\n"):
            raise ConnectionError("data after the handshake")
    return sock


def throughput(port: int, websocket: bool, size: int, text: bool, seconds: float) -> float:
    """Messages per second with WINDOW in flight; every echo checked."""
    request, expected = messages(size, text, websocket)
    step = len(expected)
    half = WINDOW // 2
    batch = request * half
    expected_all = expected * WINDOW
    sock = connect(port, websocket)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    out = memoryview(request * WINDOW)
    # Echoes land in one buffer and are compared in place (bytes.startswith on a
    # memoryview: a memcmp, no copy); the unfinished tail moves to the front.
    buffer = bytearray(WINDOW * step + (4 << 20))
    view = memoryview(buffer)
    filled = 0
    in_flight = WINDOW
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    warm = False
    measured_from = started
    # The rate is the median of SLICES slices of the measured time: a slice in which
    # another process held the CPU moves it less than it moves the mean. Under
    # SLICE_MESSAGES a slice, echoes come in bursts that slices would cut: the mean.
    slice_seconds = seconds / SLICES
    slice_end = deadline
    rates: List[float] = []
    counts: List[int] = []
    try:
        while True:
            for _, events in selector.select(5):
                if events & selectors.EVENT_WRITE and out:
                    sent = sock.send(out)
                    out = out[sent:]
                    if not out:
                        selector.modify(sock, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    count = sock.recv_into(view[filled:])
                    if not count:
                        raise ConnectionError("the server closed the connection")
                    filled += count
                    complete = filled // step
                    if complete:
                        end = complete * step
                        if complete > in_flight or not expected_all.startswith(view[:end]):
                            raise AssertionError("an echo differs from the message sent")
                        buffer[: filled - end] = view[end:filled]
                        filled -= end
                        in_flight -= complete
                        done += complete
                        if in_flight <= half and not out:
                            out = memoryview(batch)
                            in_flight += half
                            selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            now = time.perf_counter()
            if not warm and now - started > min(WARM_SECONDS, seconds / 4):
                warm, started, done, measured_from = True, now, 0, now
                deadline, slice_end = now + seconds, now + slice_seconds
            elif warm and now >= slice_end:
                rates.append(done / (now - started))
                counts.append(done)
                started, done, slice_end = now, 0, now + slice_seconds
                if now >= deadline:
                    if sum(counts) < SLICE_MESSAGES * len(counts):
                        return sum(counts) / (now - measured_from)
                    return statistics.median(rates)
    finally:
        selector.close()
        sock.close()


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU time of process ``pid`` (all its threads), or None where
    neither /proc nor psutil can tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    try:
        import psutil  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def round_trip(server: "Server", websocket: bool, size: int, seconds: float) -> Tuple[float, Optional[float], Optional[float]]:
    """Median seconds for one message there and back, one in flight, and the server's
    CPU seconds and event loop turns per message over the same round trips."""
    request, expected = messages(size, False, websocket)
    sock = connect(server.port, websocket)
    buffer = bytearray(len(expected))
    view = memoryview(buffer)

    def once() -> None:
        sock.sendall(request)
        got = 0
        while got < len(expected):
            count = sock.recv_into(view[got:])
            if not count:
                raise ConnectionError("the server closed the connection")
            got += count
        if buffer != expected:
            raise AssertionError("an echo differs from the message sent")

    samples: List[float] = []
    try:
        warm_until = time.perf_counter() + min(WARM_SECONDS, seconds / 4)
        while time.perf_counter() < warm_until:
            once()
        turns_before = server.turns()
        cpu_before = cpu_seconds(server.process.pid)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(samples) < 50:
            start = time.perf_counter()
            once()
            samples.append(time.perf_counter() - start)
        cpu_after = cpu_seconds(server.process.pid)
        turns_after = server.turns()
    finally:
        sock.close()
    cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / len(samples)
    turns = None if turns_before is None or turns_after is None else (turns_after - turns_before) / len(samples)
    return statistics.median(samples), cpu, turns


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One echo server process: ``problem`` says why it is not running, else ``version``.

    bench/echo_servers.py's ``kind`` on ``loop``, with ``options`` after its arguments; or,
    with ``command`` (arguments of the interpreter), that command with ``--port PORT``,
    ready once it prints its first line."""

    def __init__(self, kind: str, loop: str, peers_python: str, *options: str, command: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.version = ""
        self.problem = ""
        self.missing = False
        self.counts_turns = False
        env = dict(os.environ)
        ours = kind.startswith("fastws") or kind.endswith("-tcp")
        if kind.startswith("fastws"):
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
        if kind == "fastws-pure":
            env["FASTWS_NO_EXTENSIONS"] = "1"
        self.errors: IO[bytes] = tempfile.TemporaryFile()
        python = sys.executable if ours else peers_python
        if command:
            argv = [python, *command, "--port", str(self.port)]
        else:
            argv = [python, str(HERE / "echo_servers.py"), kind, str(self.port), *options]
            if kind not in LOOPLESS:
                argv += ["--loop", loop]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=self.errors)
        line = self._line(20.0)
        if command and line:
            return
        if line.startswith("ready "):
            words = line.split()
            self.version = words[1] + ("" if kind in LOOPLESS else f" on {words[2]}")
            self.counts_turns = words[-1] == "turns"
            return
        self.stop()
        self.missing = self.process.returncode == MISSING
        self.errors.seek(0)
        lines = self.errors.read().decode(errors="replace").strip().splitlines()
        self.problem = (lines[-1] if lines else line or "did not start").removeprefix("missing: ")

    def turns(self) -> Optional[int]:
        """The server's event loop turns so far (asyncio's own loop only)."""
        if not self.counts_turns:
            return None
        self.process.send_signal(signal.SIGUSR1)
        line = self._line(5.0)
        if not line.startswith("turns "):
            raise ConnectionError(f"the server did not count its loop turns: {line!r}")
        return int(line.split()[1])

    def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return ""
        return self.process.stdout.readline().decode(errors="replace").strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def measure(kind: str, loop: str, peers_python: str, seconds: float) -> Dict[str, Any]:
    """Every figure for one server: {"version", "figures", "errors"} or {"missing"}."""
    server = Server(kind, loop, peers_python)
    if server.problem:
        return {"missing" if server.missing else "failed": server.problem}
    websocket = not kind.endswith("-tcp")
    figures: Dict[str, Optional[float]] = {}
    errors: Dict[str, str] = {}
    try:
        for name, _, size, text in THROUGHPUT:
            try:
                figures[name] = throughput(server.port, websocket, size, text, seconds * (1.5 if size >= 1 << 20 else 1))
            except (OSError, AssertionError) as error:
                errors[name] = f"{type(error).__name__}: {error}"
        for size in ROUND_TRIP:
            try:
                rtt, cpu, turns = round_trip(server, websocket, size, seconds)
            except (OSError, AssertionError) as error:
                errors[f"rtt_us_{size}"] = f"{type(error).__name__}: {error}"
                continue
            figures[f"rtt_us_{size}"] = rtt * 1e6
            figures[f"cpu_us_{size}"] = None if cpu is None else cpu * 1e6
            figures[f"turns_{size}"] = turns
    finally:
        server.stop()
    return {"version": server.version, "figures": figures, "errors": errors}


#: Table columns: (figure name, label, higher is better?)
LABELS = {16: "16 B", 1024: "1 KiB", 65536: "64 KiB"}
IN_FLIGHT = [(name, label, True) for name, label, _, _ in THROUGHPUT]
ONE_IN_FLIGHT = [(f"rtt_us_{size}", f"rtt {LABELS[size]}", False) for size in ROUND_TRIP] + [
    (f"cpu_us_{size}", f"cpu {LABELS[size]}", False) for size in ROUND_TRIP
]
#: Shown with the figures, not as speed-ups.
TURNS = [(f"turns_{size}", f"turns {LABELS[size].replace(' ', '').replace('iB', '')}", False) for size in ROUND_TRIP]
NAME_WIDTH = 17
WIDTH = 11


def row(name: str, cells: List[str]) -> str:
    return name.ljust(NAME_WIDTH) + "".join(cell.rjust(WIDTH) for cell in cells)


def cell(result: Dict[str, Any], name: str, digits: int) -> str:
    value = result["figures"].get(name)
    return "fail" if name in result["errors"] else "-" if value is None else f"{value:,.{digits}f}"


def block(
    title: str,
    columns: List[Tuple[str, str, bool]],
    extra: List[Tuple[str, str, bool]],
    results: Dict[str, Dict[str, Any]],
    baselines: List[str],
) -> List[str]:
    """One table of figures, then the speed-ups of ``columns`` over each baseline."""
    lines = [title, row("server", [label for _, label, _ in columns + extra])]
    for kind, result in results.items():
        if "figures" not in result:
            lines.append(
                f"{kind:<{NAME_WIDTH}}  {'missing' if 'missing' in result else 'failed'}: {result.get('missing') or result.get('failed')}"
            )
            continue
        cells = [cell(result, name, 0 if higher else 1) for name, _, higher in columns]
        lines.append(row(kind, cells + [cell(result, name, 2) for name, _, _ in extra]))
    for baseline in baselines:
        base = results.get(baseline, {}).get("figures")
        if not base:
            lines.append(f"(no figures from {baseline}: no speed-ups over it)")
            continue
        lines += [f"speed-up over {baseline} (above 1.00: faster)"]
        for kind, result in results.items():
            if kind == baseline or "figures" not in result:
                continue
            cells = []
            for name, _, higher in columns:
                ours, theirs = result["figures"].get(name), base.get(name)
                cells.append("-" if not ours or not theirs else f"{(ours / theirs if higher else theirs / ours):.2f}")
            lines.append(row(kind, cells))
    return lines


def table(loop: str, results: Dict[str, Dict[str, Any]], baselines: List[str]) -> List[str]:
    """The figures for one loop, each with its speed-ups over each baseline."""
    return (
        block(f"[{loop}] {WINDOW} messages in flight: messages/s", IN_FLIGHT, [], results, baselines)
        + [""]
        + block(
            f"[{loop}] one message in flight: rtt = median round trip, µs; cpu = server CPU µs per message; turns = event loop turns per message",
            ONE_IN_FLIGHT,
            TURNS,
            results,
            baselines,
        )
    )


def median_of_rounds(rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One result from several rounds of the same server: each figure's median."""
    measured = [result for result in rounds if "figures" in result]
    if not measured:
        return rounds[0]
    figures: Dict[str, Optional[float]] = {}
    for name in dict.fromkeys(name for result in measured for name in result["figures"]):
        values = [result["figures"][name] for result in measured if result["figures"].get(name) is not None]
        figures[name] = statistics.median(values) if values else None
    errors = {name: error for result in measured for name, error in result["errors"].items()}
    return {"version": measured[0]["version"], "figures": figures, "errors": errors, "rounds": [result["figures"] for result in measured]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement (default 1; 1 MiB gets 1.5x)")
    parser.add_argument("--rounds", type=int, default=1, help="measure every server this many times; report medians")
    parser.add_argument("--only", help="comma-separated servers: " + ",".join(KINDS))
    parser.add_argument("--loops", default=",".join(LOOPS), help="comma-separated: asyncio,uvloop (default both)")
    parser.add_argument("--json", help="write the figures to this file")
    arguments = parser.parse_args()
    peers_python = os.environ.get("BENCH_PEERS_PYTHON", sys.executable)
    kinds = arguments.only.split(",") if arguments.only else KINDS
    loops = arguments.loops.split(",")
    for name in kinds:
        if name not in SERVERS:
            parser.error(f"no server called {name!r}; choose from {', '.join(KINDS)}")
    for name in loops:
        if name not in LOOPS:
            parser.error(f"no loop called {name!r}; choose from {', '.join(LOOPS)}")
    runs = [(kind, "none" if kind in LOOPLESS else loop) for loop in loops for kind in kinds]
    runs = list(dict.fromkeys(runs))
    print(
        f"echo over loopback: {len(runs)} servers, {arguments.rounds} round(s) of {arguments.seconds:g} s per figure; "
        f"CPython {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    started = time.perf_counter()
    measured: Dict[Tuple[str, str], List[Dict[str, Any]]] = {run: [] for run in runs}
    for index in range(arguments.rounds):
        order = runs[index % len(runs) :] + runs[: index % len(runs)]
        for kind, loop in order:
            result = measure(kind, loop, peers_python, arguments.seconds)
            measured[(kind, loop)].append(result)
            state = (
                "missing"
                if "missing" in result
                else "failed"
                if "failed" in result
                else f"{len(result['errors'])} errors"
                if result["errors"]
                else "ok"
            )
            print(f"  round {index + 1}: {kind} on {loop}: {state}", file=sys.stderr, flush=True)
    results: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for (kind, loop), rounds in measured.items():
        results.setdefault(loop, {})[kind] = median_of_rounds(rounds)
    for loop in loops:
        shown = {kind: results["none" if kind in LOOPLESS else loop][kind] for kind in kinds}
        print()
        print("\n".join(table(loop, shown, BASELINES)))
    versions = sorted(
        {result["version"].split(" on ")[0] for by_kind in results.values() for result in by_kind.values() if result.get("version")}
    )
    print(f"\nversions: {', '.join(versions)}; {time.perf_counter() - started:.0f} s in all")
    if arguments.json:
        meta = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "seconds": arguments.seconds,
            "rounds": arguments.rounds,
            "window": WINDOW,
            "load_average": os.getloadavg()[0],
            "command": " ".join([Path(sys.executable).name] + sys.argv),
        }
        Path(arguments.json).write_text(json.dumps({"meta": meta, "servers": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
