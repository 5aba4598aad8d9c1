"""The hot-path benchmark behind ``python -m fastws`` and ``bench/``.

Each workload is built once per implementation module, then timed as a whole call;
figures are medians over repeats, as throughput of payload bytes (or frames).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from types import ModuleType
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

import fastws
from fastws import _impl

MIXED_TEXT = "ASCII text, é à ü, 漢字かな, 😀🚀, Ωμέγα, ß, ق, अ. "


class Workload(NamedTuple):
    name: str
    unit: str  # what ``amount`` counts: "B" (payload bytes) or "frames"
    amount: int
    build: Callable[[ModuleType], Callable[[], Any]]


def _mask_1mib(module: ModuleType) -> Callable[[], Any]:
    data, key = os.urandom(1 << 20), os.urandom(4)
    return lambda: module.apply_mask(data, key)


def _utf8_64kib(module: ModuleType) -> Callable[[], Any]:
    data = (MIXED_TEXT * 2000).encode()[: 1 << 16]
    while not fastws.validate_utf8(data):  # do not end inside a character
        data = data[:-1]
    return lambda: module.validate_utf8(data)


def small_masked_frames(count: int, size: int = 16) -> List[bytes]:
    """``count`` masked binary frames of ``size`` bytes, in 64 KiB chunks, as a server receives them."""
    frame = fastws.encode_frame(fastws.Opcode.BINARY, os.urandom(size), mask=os.urandom(4))
    stream = frame * count
    return [stream[i : i + 65536] for i in range(0, len(stream), 65536)]


def _parse_100k(module: ModuleType) -> Callable[[], Any]:
    chunks = small_masked_frames(100_000)

    def parse() -> int:
        parser = module.FrameParser("server")
        return sum(len(parser.feed(chunk)) for chunk in chunks)

    return parse


WORKLOADS = [
    Workload("apply_mask 1 MiB", "B", 1 << 20, _mask_1mib),
    Workload("validate_utf8 64 KiB mixed", "B", 1 << 16, _utf8_64kib),
    Workload("FrameParser 100k x 16 B masked", "frames", 100_000, _parse_100k),
]


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _contenders() -> List[Tuple[str, ModuleType, str]]:
    """(label, module, SIMD level) for every implementation and level here."""
    contenders = []
    try:
        cython = _impl.load("cython")
    except ImportError:
        cython = None
    if cython is not None:
        for level in cython.simd_levels():
            contenders.append((f"cython/{level}", cython, level))
    contenders.append(("python", _impl.load("python"), "none"))
    return contenders


def _rate(amount: int, unit: str, seconds: float) -> str:
    rate = amount / seconds
    if unit == "B":
        return f"{rate / 1e9:8.2f} GB/s"
    return f"{rate / 1e6:8.2f} M frames/s"


def run(repeat: int, as_json: bool, quick: bool = False) -> int:
    results: Dict[str, Dict[str, float]] = {}
    contenders = _contenders()
    if quick:  # the selected level and pure Python only
        contenders = [c for c in contenders if c[0] == "python" or c[2] == fastws.simd]
    for workload in WORKLOADS:
        results[workload.name] = {}
        for label, module, level in contenders:
            before = module.get_simd()
            module.set_simd(level)
            try:
                results[workload.name][label] = median_seconds(workload.build(module), repeat)
            finally:
                module.set_simd(before)
            if not as_json:
                print(".", end="", file=sys.stderr, flush=True)
    if not as_json:
        print(file=sys.stderr)
    header = {
        "fastws": fastws.__version__,
        "implementation": fastws.implementation,
        "simd": fastws.simd,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": repeat,
    }
    if as_json:
        print(json.dumps({"environment": header, "median_seconds": results}, indent=2))
        return 0
    print("fastws " + ", ".join(f"{key}={value}" for key, value in header.items()))
    for workload in WORKLOADS:
        timings = results[workload.name]
        baseline = timings["python"]
        print(f"\n{workload.name}")
        for label, seconds in timings.items():
            print(f"  {label:16} {seconds * 1e3:10.3f} ms  {_rate(workload.amount, workload.unit, seconds)}  {baseline / seconds:8.1f}x pure Python")
    return 0
