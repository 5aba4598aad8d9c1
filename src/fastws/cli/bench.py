"""``python -m fastws bench``: fastws' hot paths against every installed peer.

Every case (an operation on one input) times each contender (fastws at its SIMD
level, and pure Python, and every peer adapter of :mod:`.peers`) in samples of a
calibrated number of calls (each sample lasts ``sample_ms`` or longer), taking the
samples of all contenders in turn so that a noisy neighbour slows them alike; the
figure reported is the median sample divided by its calls. Ratios compare contenders
measured in the same run, the only fair comparison on a shared machine.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, TextIO, Tuple

import fastws
from fastws import _impl

from . import peers

MIXED_TEXT = "ASCII text, é à ü, 漢字かな, 😀🚀, Ωμέγα, ß, ق, अ. "
TEXTS = {
    "ascii": "The quick brown fox jumps over the lazy dog; WebSocket frames, 0123456789. ",
    "accented": "Déjà vu: naïve café, crème brûlée, Ærøskøbing, señor, Zürich, Łódź. ",
    "cjk": "漢字とかなとカタカナ，한국어 문장，中文文本。",
    "emoji": "😀🚀🎉🐍💡🌍🔥✨",
    "mixed": MIXED_TEXT,
}
TITLES = {
    "apply_mask": "apply_mask: mask into new bytes",
    "apply_mask_into": "apply_mask_into: mask in place",
    "validate_utf8": "validate_utf8: one whole text",
    "utf8_chunks": "Utf8Validator: a text fed in 4 KiB chunks",
    "parse": "FrameParser: server side, masked binary frames fed in 64 KiB chunks",
}
KiB, MiB = 1 << 10, 1 << 20


def _size_name(size: int) -> str:
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


def text_bytes(text: str, size: int) -> bytes:
    """``text`` repeated and encoded to at most ``size`` bytes, ending on a whole character."""
    data = (text * (size // len(text.encode()) + 1)).encode()[:size]
    return data.decode("utf-8", "ignore").encode()


def small_masked_frames(count: int, size: int = 16) -> List[bytes]:
    """``count`` masked binary frames of ``size`` bytes, in 64 KiB chunks, as a server receives them."""
    frame = fastws.encode_frame(fastws.Opcode.BINARY, os.urandom(size), mask=os.urandom(4))
    stream = frame * count
    return [stream[i : i + 65536] for i in range(0, len(stream), 65536)]


# -- cases --------------------------------------------------------------------------


class Case(NamedTuple):
    operation: str
    name: str  # unique within the operation: "64 KiB", "mixed 1 MiB", "16 B frames"
    size: int  # payload bytes per frame (parse) or per call: the x axis of the plot
    payload_bytes: int  # per call
    frames: int  # per call (parse), else 0
    arguments: Callable[[], Tuple[Any, ...]]  # built when the case runs
    expect: Callable[[Any], bool]  # checks each contender's answer once


def _mask_case(operation: str, size: int) -> Case:
    def arguments() -> Tuple[Any, ...]:
        data = os.urandom(size)
        return (data if operation == "apply_mask" else bytearray(data), os.urandom(4))

    return Case(operation, _size_name(size), size, size, 0, arguments, lambda result: result is None or len(result) == size)


def _utf8_case(text: str, size: int) -> Case:
    data = text_bytes(TEXTS[text], size)
    return Case("validate_utf8", f"{text} {_size_name(size)}", size, len(data), 0, lambda: (data,), lambda result: result is True)


def _reject_case(size: int) -> Case:
    data = b"\xff" + text_bytes(TEXTS["ascii"], size - 1)
    name = f"reject {_size_name(size)}"  # the first byte is invalid: fail fast
    return Case("validate_utf8", name, size, size, 0, lambda: (data,), lambda result: result is False)


def _chunks_case(text: str, size: int, chunk: int = 4 * KiB) -> Case:
    data = text_bytes(TEXTS[text], size)
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    name = f"{text} {_size_name(size)}"
    return Case("utf8_chunks", name, size, len(data), 0, lambda: (chunks,), lambda result: result is True)


def _parse_case(size: int, count: int) -> Case:
    def arguments() -> Tuple[Any, ...]:
        return (small_masked_frames(count, size),)

    name = f"{_size_name(size)} frames"
    return Case("parse", name, size, size * count, count, arguments, lambda frames: len(frames) == count)


MASK_SIZES = (8, 125, KiB, 16 * KiB, 64 * KiB, MiB, 16 * MiB)
UTF8_SIZES = (4 * KiB, 64 * KiB, MiB)


def all_cases() -> List[Case]:
    cases = [_mask_case(operation, size) for operation in ("apply_mask", "apply_mask_into") for size in MASK_SIZES]
    cases += [_utf8_case(text, size) for text in TEXTS for size in UTF8_SIZES]
    cases += [_reject_case(MiB), _chunks_case("ascii", MiB), _chunks_case("mixed", MiB)]
    cases += [_parse_case(16, 10_000), _parse_case(KiB, 2_000), _parse_case(MiB, 8)]
    return cases


QUICK: Dict[str, Sequence[str]] = {
    "apply_mask": ("8 B", "64 KiB"),
    "apply_mask_into": ("8 B", "64 KiB"),
    "validate_utf8": ("ascii 64 KiB", "mixed 64 KiB", "reject 1 MiB"),
    "utf8_chunks": ("mixed 1 MiB",),
    "parse": ("16 B frames", "1 MiB frames"),
}
INTRO: Dict[str, Sequence[str]] = {"apply_mask": ("1 MiB",), "validate_utf8": ("mixed 64 KiB",), "parse": ("16 B frames",)}


# -- contenders ---------------------------------------------------------------------


class Contender(NamedTuple):
    label: str  # "fastws avx2", "fastws python", or a peer adapter's label
    kind: str  # "fastws" or "peer"
    level: Optional[str]  # the SIMD level to set while it runs (fastws)
    calls: Dict[str, peers.Loaded]  # by operation


def fastws_contenders(all_levels: bool) -> Tuple[List[Contender], List[str]]:
    """fastws at the selected SIMD level (or every level), and in pure Python."""
    chosen: List[Tuple[str, Any, Optional[str]]] = []
    if fastws.implementation == "cython":
        module = _impl.load("cython")
        levels = module.simd_levels() if all_levels else (module.get_simd(),)
        chosen += [(f"fastws {level}", module, level) for level in levels]
    chosen.append(("fastws python", _impl.load("python"), None))
    contenders, problems = [], []
    for label, module, level in chosen:
        calls: Dict[str, peers.Loaded] = {}
        with _simd(module if level else None, level):
            for operation in peers.OPERATIONS:
                loaded, left_out = peers.load(operation, peers.fastws_adapters(module, label))
                calls.update((operation, item) for item in loaded)
                problems += left_out
        contenders.append(Contender(label, "fastws", level, calls))
    return contenders, problems


def peer_contenders(operations: Sequence[str]) -> Tuple[List[Contender], List[str]]:
    contenders, left_out = [], []
    for operation in operations:
        loaded, missing = peers.load(operation)
        contenders += [Contender(item.adapter.label, "peer", None, {operation: item}) for item in loaded]
        left_out += [f"{operation}: {reason}" for reason in missing]
    return contenders, left_out


class _simd:
    """Sets a fastws SIMD level for the duration of a block (no-op without one)."""

    def __init__(self, module: Any, level: Optional[str]) -> None:
        self.module, self.level = module, level

    def __enter__(self) -> None:
        if self.module is not None:
            self.before = self.module.get_simd()
            self.module.set_simd(self.level)

    def __exit__(self, *exc_info: Any) -> None:
        if self.module is not None:
            self.module.set_simd(self.before)


# -- timing -------------------------------------------------------------------------


def time_calls(call: Callable[..., Any], arguments: Tuple[Any, ...], loops: int) -> int:
    """Nanoseconds that ``loops`` calls take (the loop's own cost included, alike for all)."""
    repeat = range(loops)
    if len(arguments) == 2:
        first, second = arguments
        start = time.perf_counter_ns()
        for _ in repeat:
            call(first, second)
        return time.perf_counter_ns() - start
    (only,) = arguments
    start = time.perf_counter_ns()
    for _ in repeat:
        call(only)
    return time.perf_counter_ns() - start


def calibrate(call: Callable[..., Any], arguments: Tuple[Any, ...], sample_ns: int) -> int:
    """How many calls make one sample last at least ``sample_ns``."""
    loops = 1
    while True:
        elapsed = time_calls(call, arguments, loops)
        if elapsed >= sample_ns:
            return loops
        loops = max(loops * 2, int(loops * sample_ns * 1.2 / max(elapsed, 1)))


class Result(NamedTuple):
    operation: str
    case: str
    label: str
    kind: str
    median_ns: float  # per call
    loops: int  # calls per sample
    samples: int
    payload_bytes: int
    frames: int

    @property
    def bytes_per_second(self) -> float:
        return self.payload_bytes * 1e9 / self.median_ns

    @property
    def frames_per_second(self) -> float:
        return self.frames * 1e9 / self.median_ns


def measure(case: Case, contenders: Sequence[Contender], repeat: int, sample_ns: int, tick: Callable[[], None]) -> List[Result]:
    """Times every contender that has ``case.operation``, round-robin over samples."""
    arguments = case.arguments()
    runners: List[Tuple[Contender, Any, Callable[..., Any], int, List[int]]] = []
    for contender in contenders:
        loaded = contender.calls.get(case.operation)
        if loaded is None:
            continue
        module = _impl.load("cython") if contender.level else None
        with _simd(module, contender.level):
            answer = loaded.call(*arguments)
            if not case.expect(answer):
                raise AssertionError(f"{contender.label} gave a wrong answer on {case.operation} {case.name}")
            del answer
            loops = calibrate(loaded.call, arguments, sample_ns)
        runners.append((contender, module, loaded.call, loops, []))
    enabled = gc.isenabled()
    gc.disable()
    try:
        for round_number in range(repeat):
            # Each round starts with another contender, so that no one always
            # follows the same neighbour.
            start = round_number % len(runners)
            for contender, module, call, loops, samples in runners[start:] + runners[:start]:
                with _simd(module, contender.level):
                    # One untimed call first: the previous contender leaves the
                    # allocator in its own state (a fresh mmap for a 16 MiB result
                    # costs its page faults to whoever allocates next).
                    time_calls(call, arguments, 1)
                    samples.append(time_calls(call, arguments, loops))
            tick()
    finally:
        if enabled:
            gc.enable()
    return [
        Result(
            case.operation,
            case.name,
            contender.label,
            contender.kind,
            statistics.median(samples) / loops,
            loops,
            len(samples),
            case.payload_bytes,
            case.frames,
        )
        for contender, module, call, loops, samples in runners
    ]


class Progress:
    """A plain-text progress bar on a terminal's stderr; silent elsewhere."""

    def __init__(self, total: int, stream: Optional[TextIO] = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = ""
        self.start = time.monotonic()

    def show(self, label: str) -> None:
        self.label = label
        self.draw()

    def tick(self) -> None:
        self.done += 1
        self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.start
        line = f"\r[{bar}] {100 * self.done // max(self.total, 1):3d}% {elapsed:5.0f} s  {self.label}"
        self.stream.write(f"{line[:100]:<100}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


# -- the report ---------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment() -> Dict[str, Any]:
    return {
        "fastws": fastws.__version__,
        "implementation": fastws.implementation,
        "simd": fastws.simd,
        "simd_levels": list(fastws.simd_levels()),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{platform.system()} {platform.machine()}",
    }


def best_peer(results: Sequence[Result]) -> Dict[Tuple[str, str], Result]:
    """The fastest peer of each case."""
    best: Dict[Tuple[str, str], Result] = {}
    for result in results:
        key = (result.operation, result.case)
        if result.kind == "peer" and (key not in best or result.median_ns < best[key].median_ns):
            best[key] = result
    return best


def _duration(ns: float) -> str:
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"


def _throughput(result: Result) -> str:
    if result.frames and result.payload_bytes // result.frames < 64 * KiB:
        return f"{_figure(result.frames_per_second / 1e6)} M frames/s"
    return f"{_figure(result.bytes_per_second / 1e9)} GB/s"


def _table(results: Sequence[Result], out: TextIO) -> None:
    best = best_peer(results)
    # Where no peer ran (plain ``python -m fastws``), compare with fastws' pure Python.
    pure = {(r.operation, r.case): r for r in results if r.label == "fastws python"}
    previous: Optional[Result] = None
    for result in results:
        if previous is None or result.operation != previous.operation:
            print(f"\n{TITLES[result.operation]}", file=out)
            print(f"  {'case':<14} {'implementation':<22} {'median':>10} {'throughput':>18} {'vs best peer':>13}", file=out)
        elif result.case != previous.case:
            print(file=out)
        peer = best.get((result.operation, result.case))
        python = pure.get((result.operation, result.case))
        if peer:
            ratio = f"{peer.median_ns / result.median_ns:.2f}x"
        elif python and python is not result:
            ratio = f"{python.median_ns / result.median_ns:.1f}x python"
        else:
            ratio = "-"
        name = result.case if previous is None or (result.operation, result.case) != (previous.operation, previous.case) else ""
        print(f"  {name:<14} {result.label:<22} {_duration(result.median_ns):>10} {_throughput(result):>18} {ratio:>13}", file=out)
        previous = result


# -- performance goals: fastws against its peers, same run ---------------------------


Key = Tuple[str, str, str]  # a result's (operation, case, label); label "best peer": the case's fastest peer
Pair = Tuple[Key, Key]  # (fastws' result, the one it is measured against)


def goals(selected: str) -> List[Tuple[str, float, List[Pair], Optional[float]]]:
    """(text, threshold, pairs, time limit in ns) for every performance goal. A pair's
    ratio is the other's time over fastws' time; with a time limit, the limit over
    fastws' time (the pair's other side is unused)."""
    fast, pure = f"fastws {selected}", "fastws python"

    def versus(operation: str, cases: Sequence[str], other: str, mine: str = fast) -> List[Pair]:
        return [((operation, case, mine), (operation, case, other)) for case in cases]

    sizes = [_size_name(size) for size in MASK_SIZES]
    texts = ("accented", "cjk", "emoji", "mixed")
    parse_small = ("16 B frames", "1 KiB frames")
    parse_all = parse_small + ("1 MiB frames",)
    return [
        ("apply_mask >= 1.0x websockets, 8 B to 16 MiB", 1.0, versus("apply_mask", sizes, "websockets"), None),
        ("apply_mask >= 1.3x websockets, 8-125 B", 1.3, versus("apply_mask", sizes[:2], "websockets"), None),
        ("apply_mask_into >= 1.0x aiohttp, 8-125 B", 1.0, versus("apply_mask_into", sizes[:2], "aiohttp"), None),
        ("apply_mask_into >= 1.3x aiohttp, 16 KiB to 1 MiB", 1.3, versus("apply_mask_into", sizes[3:6], "aiohttp"), None),
        (
            "validate_utf8 >= 1.5x bytes.decode on ASCII, 4 KiB up",
            1.5,
            versus("validate_utf8", [f"ascii {_size_name(s)}" for s in UTF8_SIZES], "bytes.decode"),
            None,
        ),
        (
            "validate_utf8 >= 5x bytes.decode, non-ASCII 64 KiB",
            5.0,
            versus("validate_utf8", [f"{t} 64 KiB" for t in texts], "bytes.decode"),
            None,
        ),
        (
            "validate_utf8 >= 10x bytes.decode, non-ASCII 1 MiB",
            10.0,
            versus("validate_utf8", [f"{t} 1 MiB" for t in texts], "bytes.decode"),
            None,
        ),
        ("validate_utf8 rejects 1 MiB (bad first byte) < 1 µs", 1.0, [(("validate_utf8", "reject 1 MiB", fast),) * 2], 1000.0),
        (
            "Utf8Validator in 4 KiB chunks >= 0.8x one-shot, 1 MiB",
            0.8,
            [(("utf8_chunks", f"{t} 1 MiB", fast), ("validate_utf8", f"{t} 1 MiB", fast)) for t in ("ascii", "mixed")],
            None,
        ),
        ("FrameParser >= 1.0x picows (no payload), 16 B and 1 KiB", 1.0, versus("parse", parse_small, "picows (no payload)"), None),
        ("FrameParser >= 2x aiohttp (Cython), 16 B and 1 KiB", 2.0, versus("parse", parse_small, "aiohttp (Cython)"), None),
        ("FrameParser >= 4x the best peer, 1 MiB frames", 4.0, versus("parse", ["1 MiB frames"], "best peer"), None),
        (
            "pure-Python FrameParser >= 1.2x aiohttp's and websockets' (Python)",
            1.2,
            versus("parse", parse_all, "aiohttp (Python)", pure) + versus("parse", parse_all, "websockets (Python)", pure),
            None,
        ),
    ]


def evaluate_goals(results: Sequence[Result], selected: str) -> List[Dict[str, Any]]:
    """Each goal with its measured ratio (the worst pair) and whether it is met;
    a goal whose figures are missing (a peer not installed, --quick) has ratio None."""
    by_key = {(r.operation, r.case, r.label): r for r in results}
    best = best_peer(results)
    report = []
    for text, threshold, pairs, limit_ns in goals(selected):
        ratios: List[Tuple[float, str]] = []
        for mine, other in pairs:
            if other[2] == "best peer":
                other_result = best.get(other[:2])
            else:
                other_result = by_key.get(other)
            if mine not in by_key or other_result is None:
                ratios = []
                break
            where = f"{mine[1]}" if mine[0] == other[0] else f"{mine[0]} vs {other[0]} {mine[1]}"
            if limit_ns is not None:
                ratios.append((limit_ns / by_key[mine].median_ns, where))
            else:
                ratios.append((other_result.median_ns / by_key[mine].median_ns, f"{other_result.label}, {where}"))
        entry: Dict[str, Any] = {"goal": text, "threshold": threshold, "ratio": None, "met": None, "worst": None}
        if ratios:
            ratio, entry["worst"] = min(ratios)
            entry.update(ratio=ratio, met=ratio >= threshold)
            if limit_ns is not None:
                entry["median_ns"] = limit_ns / ratio
        report.append(entry)
    return report


def _print_goals(report: Sequence[Dict[str, Any]], out: TextIO) -> None:
    print("\nperformance goals (worst ratio over the goal's cases; same run)", file=out)
    for entry in report:
        if entry["ratio"] is None:
            verdict = "n/a (not measured: a peer missing, or --quick)"
        elif "median_ns" in entry:
            verdict = f"{_duration(entry['median_ns'])}  {'met' if entry['met'] else 'NOT met'}"
        else:
            verdict = f"{entry['ratio']:.2f}x  {'met' if entry['met'] else 'NOT met'}  (worst: {entry['worst']})"
        print(f"  {entry['goal']:<62} {verdict}", file=out)


# -- plot ---------------------------------------------------------------------------

PLOTTED: Dict[str, Tuple[str, Callable[[str], bool]]] = {  # operation: (panel title, which cases)
    "apply_mask": ("apply_mask (new bytes)", lambda case: True),
    "apply_mask_into": ("apply_mask_into (in place)", lambda case: True),
    "validate_utf8": ("validate_utf8, mixed text", lambda case: case.startswith("mixed")),
    "parse": ("FrameParser, server side (payload GB/s)", lambda case: True),
}


def plot(results: Sequence[Result], cases: Sequence[Case], path: str, header: str) -> None:
    """Throughput against payload size, one panel per operation, one line per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    sizes = {(case.operation, case.name): case.size for case in cases}
    panels = [operation for operation in PLOTTED if any(r.operation == operation for r in results)]
    columns = min(len(panels), 2) or 1
    rows = (len(panels) + columns - 1) // columns or 1
    figure, axes = pyplot.subplots(rows, columns, figsize=(6 * columns, 4.5 * rows), squeeze=False)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis, operation in zip(axes.flat, panels):
        title, wanted = PLOTTED[operation]
        lines: Dict[str, List[Tuple[int, float]]] = {}
        for result in results:
            if result.operation == operation and wanted(result.case):
                lines.setdefault(result.label, []).append((sizes[(operation, result.case)], result.bytes_per_second / 1e9))
        for label, points in lines.items():
            points.sort()
            style = "-" if label.startswith("fastws") else "--"
            axis.plot([x for x, _ in points], [y for _, y in points], style, marker="o", markersize=3, label=label)
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("payload size (bytes)")
        axis.set_ylabel("GB/s")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(header, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


# -- the command --------------------------------------------------------------------


def _select(cases: List[Case], wanted: Optional[Dict[str, Sequence[str]]], operations: Optional[Sequence[str]]) -> List[Case]:
    if wanted is not None:
        cases = [case for case in cases if case.name in wanted.get(case.operation, ())]
    if operations:
        cases = [case for case in cases if case.operation in operations]
    return cases


def run(
    repeat: int = 21,
    as_json: bool = False,
    quick: bool = False,
    *,
    intro: bool = False,
    all_levels: bool = False,
    plot_path: Optional[str] = None,
    operations: Optional[Sequence[str]] = None,
    sample_ms: float = 5.0,
    out: Optional[TextIO] = None,
) -> int:
    """Measures and reports. ``intro``: the short run of plain ``python -m fastws``
    (three cases, fastws against pure Python, no peers); ``quick``: a few cases of
    every operation; otherwise every case."""
    out = out or sys.stdout
    if plot_path is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib: pip install 'fastws[plot]' (or matplotlib)", file=sys.stderr)
            return 2
    cases = _select(all_cases(), INTRO if intro else QUICK if quick else None, operations)
    contenders, problems = fastws_contenders(all_levels)
    left_out: List[str] = []
    if not intro:
        found, left_out = peer_contenders(sorted({case.operation for case in cases}, key=peers.OPERATIONS.index))
        contenders += found
    progress = Progress(len(cases) * repeat)
    results: List[Result] = []
    try:
        for case in cases:
            progress.show(f"{case.operation} {case.name}")
            results += measure(case, contenders, repeat, int(sample_ms * 1e6), progress.tick)
    finally:
        progress.close()
    header = environment()
    settings = {
        "repeat": repeat,
        "sample_ms": sample_ms,
        "mode": "intro" if intro else "quick" if quick else "full",
        "all_levels": all_levels,
    }
    report = evaluate_goals(results, fastws.simd)
    if as_json:
        best = best_peer(results)
        rows = []
        for r in results:
            peer = best.get((r.operation, r.case))
            row = {**r._asdict(), "bytes_per_second": r.bytes_per_second, "frames_per_second": r.frames_per_second if r.frames else None}
            row["vs_best_peer"] = peer.median_ns / r.median_ns if peer else None
            rows.append(row)
        document = {"environment": header, "settings": settings, "left_out": problems + left_out, "results": rows, "goals": report}
        print(json.dumps(document, indent=2), file=out)
    else:
        title = (
            f"fastws {header['fastws']} ({header['implementation']}, SIMD {header['simd']} of {', '.join(header['simd_levels']) or 'none'})"
        )
        print(f"{title} on {header['cpu']} ({header['cpus']} CPUs), {header['python']}, {header['platform']}", file=out)
        print(f"medians of {repeat} samples of >= {sample_ms:g} ms each; 'vs best peer' = the fastest peer's time / this time", file=out)
        missing = sorted({reason.rsplit("(", 1)[1].rstrip(")") for reason in left_out if ": not installed (" in reason})
        if missing:
            print(f"not installed (pip install 'fastws[bench]'): {', '.join(missing)}", file=out)
        for reason in problems + left_out:
            if ": not installed (" not in reason:
                print(f"left out: {reason}", file=out)
        _table(results, out)
        if not intro:
            _print_goals(report, out)
    if plot_path is not None:
        plot(results, cases, plot_path, f"fastws {header['fastws']} · SIMD {header['simd']} · {header['cpu']} · {header['python']}")
        if not as_json:
            print(f"\nplot: {plot_path}", file=out)
    return 0
