"""websockets' asyncio echo server with and without fastws.compat, in one run, under
bench/echo.py's load generator (one connection, 64 messages in flight, every echo
checked; round trips with one in flight).

    python bench/websockets_compat.py [--seconds 2] [--rounds 3] [--json FILE]

Figures: messages/s at 16 B, 1 KiB, 1 KiB text, 64 KiB and 1 MiB, then the median
round trip (µs) at 16 B and 64 KiB. Each round starts both servers afresh and measures
them in alternating order; the table gives the median over the rounds and the ratio.
A second table gives the server's CPU time per message (µs; from /proc, so Linux only):
on a machine shared with other work, wall-clock rates swing with the neighbours' load,
while the CPU that the server spends on each message does not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import echo

KINDS = ["websockets", "websockets+fastws"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@contextlib.contextmanager
def text_frames() -> Iterator[None]:
    """echo.throughput sends binary frames of random bytes; within this block it sends
    text frames of ASCII letters, and expects them back as text."""
    binary_frame, module_os = echo.frame, echo.os

    def text_frame(payload: bytes, mask: object) -> bytes:
        wire = binary_frame(payload, mask)  # type: ignore[arg-type]
        return b"\x81" + wire[1:]

    letters = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    letters.urandom = lambda size: bytes(97 + byte % 26 for byte in os.urandom(size))
    echo.frame, echo.os = text_frame, letters  # type: ignore[assignment]
    try:
        yield
    finally:
        echo.frame, echo.os = binary_frame, module_os


def measures(seconds: float) -> List[Tuple[str, Callable[[int], float]]]:
    def text(port: int) -> float:
        with text_frames():
            return echo.throughput(port, True, 1024, seconds)

    def sized(size: int, factor: float = 1.0) -> Callable[[int], float]:
        return lambda port: echo.throughput(port, True, size, seconds * factor)

    def rtt(size: int) -> Callable[[int], float]:
        return lambda port: echo.round_trip(port, True, size, seconds / 2) * 1e6

    return [
        ("16 B", sized(16)),
        ("1 KiB", sized(1024)),
        ("1 KiB text", text),
        ("64 KiB", sized(65536)),
        ("1 MiB", sized(1 << 20, 1.5)),
        ("RTT 16 B µs", rtt(16)),
        ("RTT 64 KiB µs", rtt(65536)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each server once per round (default 3)")
    parser.add_argument("--json", help="write the figures to this file")
    arguments = parser.parse_args()
    # Both servers run on this interpreter, with this checkout's fastws importable.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(echo.SRC), os.environ.get("PYTHONPATH", "")]))
    figures: Dict[str, Dict[str, List[float]]] = {kind: {} for kind in KINDS}
    cpu: Dict[str, Dict[str, List[float]]] = {kind: {} for kind in KINDS}
    names = [name for name, _ in measures(arguments.seconds)]
    for round_number in range(arguments.rounds):
        order = KINDS if round_number % 2 == 0 else KINDS[::-1]
        for kind in order:
            process, port, problem = echo.start(kind, sys.executable)
            if process is None:
                print(f"{kind}: did not start: {problem.strip()[-300:]}")
                return 1
            try:
                for name, measure in measures(arguments.seconds):
                    used, started = cpu_seconds(process.pid), time.perf_counter()
                    value = measure(port)
                    busy = (cpu_seconds(process.pid) - used) / (time.perf_counter() - started)
                    figures[kind].setdefault(name, []).append(value)
                    # The server's CPU per message: its share of a core over the rate,
                    # or times the round trip.
                    cpu[kind].setdefault(name, []).append(busy * value if name.startswith("RTT") else busy / value * 1e6)
            finally:
                process.kill()
                process.wait()
        print(f"round {round_number + 1}/{arguments.rounds} done", file=sys.stderr, flush=True)
    medians = {kind: {name: statistics.median(values) for name, values in figures[kind].items()} for kind in KINDS}
    print(f"websockets asyncio echo server, {echo.WINDOW} in flight (messages/s) and round trips (median µs); median of {arguments.rounds} rounds")
    print(f"{'':<16}" + "".join(f"{kind:>20}" for kind in KINDS) + f"{'ratio':>10}")
    for name in names:
        base, fast = medians["websockets"][name], medians["websockets+fastws"][name]
        ratio = base / fast if name.startswith("RTT") else fast / base
        print(f"{name:<16}{base:>20,.1f}{fast:>20,.1f}{ratio:>9.2f}x")
    print("ratio: speed-up (for round trips, the old time over the new)")
    cpu_medians = {kind: {name: statistics.median(values) for name, values in cpu[kind].items()} for kind in KINDS}
    print("\nthe server's CPU time per message (µs), median of the rounds")
    print(f"{'':<16}" + "".join(f"{kind:>20}" for kind in KINDS) + f"{'ratio':>10}")
    for name in names:
        base, fast = cpu_medians["websockets"][name], cpu_medians["websockets+fastws"][name]
        print(f"{name:<16}{base:>20,.2f}{fast:>20,.2f}{base / fast:>9.2f}x")
    print("ratio: websockets' CPU per message over websockets+fastws'")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"rounds": figures, "medians": medians, "cpu_us": cpu, "cpu_medians": cpu_medians}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
