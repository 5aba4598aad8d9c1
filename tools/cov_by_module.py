"""Coverage of each module by its own tests, against floors that only go up.

    python tools/cov_by_module.py                # measure, print the table, fail under a floor
    python tools/cov_by_module.py --update       # the same, then raise floors to what was measured
    python tools/cov_by_module.py --cython       # also _speedups.pyx's lines (builds a traced copy)

One pytest run under coverage with a context per test; a line of a module counts as
covered when one of the module's own test modules (OWNERS) ran it, or when it ran at
import (the empty context: definitions, constants). So a module is only as covered as
its own tests make it, not as the whole suite happens to reach it.

The floors live in tools/coverage_floors.txt, one "path percent" a line. A module under
its floor fails the run; --update rewrites the file with max(floor, measured - MARGIN), so a
floor never goes down by itself. A module without a floor is reported, and gets one on --update.

With --cython the extension is rebuilt in a temporary copy of the tree with Cython's line
tracing (linetrace, CYTHON_TRACE) and measured through Cython's coverage plugin. Needs the
``coverage`` extra; run from the repository root with the project's virtualenv.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ROOT / "tools" / "coverage_floors.txt"
# --update sets a floor this many points under the measured whole percent: timing-dependent
# branches of the asyncio tests come and go from run to run, and must not fail CI.
MARGIN = 1.0

_CORE = ["test_frames", "test_masking", "test_utf8", "test_close", "test_differential", "test_impl", "test_threads"]
_PROTOCOL = ["test_protocol_connection", "test_protocol_random", "test_protocol_api", "test_bounds"]
_AIO = ["test_aio_connection", "test_aio_flow", "test_aio_api", "test_hostile_clients"]

# Module (relative to src/) -> the test modules that own it.
OWNERS: Dict[str, List[str]] = {
    "fastws/__init__.py": ["test_impl"],
    "fastws/__main__.py": ["test_cli"],
    "fastws/_impl.py": ["test_impl"],
    "fastws/_messages.py": _CORE,
    "fastws/_pure.py": _CORE,
    "fastws/_speedups.pyx": _CORE,
    "fastws/codes.py": _CORE,
    "fastws/errors.py": [*_CORE, "test_protocol_errors"],
    "fastws/aio/__init__.py": _AIO,
    "fastws/aio/_client.py": _AIO,
    "fastws/aio/_connection.py": _AIO,
    "fastws/aio/_server.py": _AIO,
    "fastws/cli/__init__.py": ["test_cli"],
    "fastws/cli/bench.py": ["test_cli"],
    "fastws/cli/peers.py": ["test_cli"],
    "fastws/cli/serve.py": ["test_cli"],
    "fastws/compat/__init__.py": ["test_compat_init"],
    "fastws/compat/_patch.py": ["test_compat_init", "test_compat_websockets", "test_compat_wsproto", "test_compat_autobahn"],
    "fastws/compat/autobahn.py": ["test_compat_autobahn"],
    "fastws/compat/websockets.py": ["test_compat_websockets"],
    "fastws/compat/wsproto.py": ["test_compat_wsproto"],
    "fastws/compat/wsaccel/__init__.py": ["test_compat_wsaccel"],
    "fastws/compat/wsaccel/_args.py": ["test_compat_wsaccel_utf8validator", "test_compat_wsaccel_xormask"],
    "fastws/compat/wsaccel/utf8validator.py": ["test_compat_wsaccel_utf8validator"],
    "fastws/compat/wsaccel/xormask.py": ["test_compat_wsaccel_xormask"],
    "fastws/protocol/__init__.py": _PROTOCOL,
    "fastws/protocol/_connection.py": _PROTOCOL,
    "fastws/protocol/_deflate.py": ["test_protocol_deflate"],
    "fastws/protocol/_errors.py": ["test_protocol_errors"],
    "fastws/protocol/_events.py": ["test_protocol_events"],
    "fastws/protocol/_handshake.py": ["test_protocol_handshake"],
    "fastws/protocol/_http.py": ["test_protocol_http"],
    "fastws/protocol/_prepared.py": ["test_protocol_api"],
    "fastws/protocol/_select.py": ["test_protocol_api"],
    "fastws/aio/_workers.py": ["test_workers"],
    "fastws/hub/__init__.py": ["test_hub", "test_hub_redis"],
    "fastws/hub/_hub.py": ["test_hub", "test_hub_redis"],
    "fastws/hub/_redis.py": ["test_hub_redis"],
    "fastws/uvicorn.py": ["test_uvicorn_protocol"],
    "fastws/cli/chat.py": ["test_chat_browser", "test_cli"],
    "fastws/protocol/_state.py": ["test_protocol_state"],
}


def read_floors() -> Dict[str, float]:
    floors: Dict[str, float] = {}
    if FLOORS.exists():
        for line in FLOORS.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                path, percent = line.split()
                floors[path] = float(percent)
    return floors


def write_floors(floors: Dict[str, float]) -> None:
    lines = ["# Coverage of each module by its own tests (tools/cov_by_module.py): floors that only go up."]
    lines += [f"{path} {percent:.1f}" for path, percent in sorted(floors.items())]
    FLOORS.write_text("\n".join(lines) + "\n")


def _run(tree: Path, env: Dict[str, str], modules: List[str], cython: bool) -> Path:
    """Runs the owning test modules under coverage with a context per test; returns the data file."""
    data = tree / ".coverage.own"
    rc = tree / ".coveragerc.own"
    plugins = "plugins = Cython.Coverage\n" if cython else ""
    rc.write_text(f"[run]\n{plugins}source = {tree / 'src' / 'fastws'}\ndynamic_context = test_function\ndata_file = {data}\n")
    tests = [str(tree / "tests" / f"{name}.py") for name in modules if (tree / "tests" / f"{name}.py").exists()]
    command = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", "-x"]
    print("$", " ".join(command[:5]), "-m pytest", f"<{len(tests)} test modules>", flush=True)
    subprocess.run(
        command, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL if not os.environ.get("FASTWS_COVERAGE_VERBOSE") else None
    )
    return data


def _measure(tree: Path, data_file: Path, cython: bool) -> Dict[str, Tuple[int, int]]:
    """path -> (statements, covered by own tests or at import)."""
    from coverage import Coverage

    cov = Coverage(data_file=str(data_file), config_file=str(tree / ".coveragerc.own"))
    cov.load()
    data = cov.get_data()
    measured: Dict[str, Tuple[int, int]] = {}
    for path, owners in OWNERS.items():
        if path.endswith(".pyx") and not cython:
            continue
        filename = str(tree / "src" / path)
        try:
            _, statements, _, _, _ = cov.analysis2(filename)
        except Exception:  # noqa: BLE001 - a module no test imported: nothing measured
            statements = []
        by_line = data.contexts_by_lineno(filename) or {}
        own: Set[int] = set()
        for line, contexts in by_line.items():
            if any(context == "" or context.split(".")[0] in owners for context in contexts):
                own.add(line)
        measured[path] = (len(statements), len(own & set(statements)))
    return measured


def _traced_tree() -> Tuple[Path, Dict[str, str]]:
    """A copy of the work tree with the extension built in place with line tracing."""
    tree = Path(tempfile.mkdtemp(prefix="fastws-cov-"))
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True
    )
    for name in filter(None, listing.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    env = {**os.environ, "FASTWS_BUILD_EXTENSION": "yes", "FASTWS_CYTHON_TRACE": "1"}
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return tree, {**env, "PYTHONPATH": str(tree / "src")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="raise the floors to what was measured")
    parser.add_argument("--cython", action="store_true", help="also measure _speedups.pyx (a traced build)")
    args = parser.parse_args()
    modules = sorted({name for owners in OWNERS.values() for name in owners})
    if args.cython:
        tree, env = _traced_tree()
    else:
        tree, env = ROOT, {**os.environ}
    env.setdefault("FASTWS_NO_BROWSER_TESTS", "1")
    try:
        data_file = _run(tree, env, modules, args.cython)
        measured = _measure(tree, data_file, args.cython)
    finally:
        if tree != ROOT:
            shutil.rmtree(tree, ignore_errors=True)
        else:
            for name in (".coverage.own", ".coveragerc.own"):
                (ROOT / name).unlink(missing_ok=True)
    floors = read_floors()
    failed = []
    print(f"\n{'module':<42} {'statements':>10} {'own tests':>10} {'floor':>7}")
    for path, (statements, covered) in measured.items():
        percent = 100.0 * covered / statements if statements else 100.0
        floor = floors.get(path)
        verdict = "" if floor is None else ("  BELOW FLOOR" if percent + 1e-9 < floor else "")
        print(f"{path:<42} {statements:>10} {percent:>9.1f}% {'-' if floor is None else f'{floor:.1f}%':>7}{verdict}")
        if verdict:
            failed.append(path)
        if args.update:
            floors[path] = max(floor or 0.0, math.floor(percent) - MARGIN)
    total_statements = sum(s for s, _ in measured.values())
    total_covered = sum(c for _, c in measured.values())
    print(f"{'total':<42} {total_statements:>10} {100.0 * total_covered / max(total_statements, 1):>9.1f}%")
    if args.update:
        write_floors(floors)
        print(f"floors written to {FLOORS.relative_to(ROOT)}")
    if failed:
        print(f"under its floor: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
