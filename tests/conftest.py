"""Runs every test against both implementations, and kernel tests at every SIMD level.

Fixtures:
- ``impl``: the implementation module, parametrised "cython" and "python".
- ``kernel``: the same, with the Cython one once per SIMD level this CPU runs.
- ``cy``: the Cython module once per SIMD level, for tests that compare it with the
  pure twin (counted as "both").

The Cython cases fail (never skip) when the extension is missing, unless
FASTWS_TEST_PURE_ONLY=1 says the run is for the pure-Python package alone. The
summary at the end counts the tests that ran on each implementation.
"""

from __future__ import annotations

import asyncio
import collections
import dis
import os
import sys
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from fastws import _impl

PURE_ONLY = os.environ.get("FASTWS_TEST_PURE_ONLY", "") not in ("", "0")
IMPLEMENTATIONS = ["python"] if PURE_ONLY else ["cython", "python"]

# These modules compare fastws.compat.wsaccel with the real wsaccel, which does not build on
# CPython 3.14+ (the test extra leaves it out there): they run on 3.10-3.13, where CI has it.
collect_ignore = (
    ["test_compat_wsaccel.py", "test_compat_wsaccel_utf8validator.py", "test_compat_wsaccel_xormask.py"]
    if sys.version_info >= (3, 14)
    else []
)


def _kernel_params() -> List[Tuple[str, str]]:
    params = [("python", "none")]
    if not PURE_ONLY:
        try:
            levels = _impl.load("cython").simd_levels()
        except ImportError:
            levels = ("missing",)  # the fixture will fail these cases loudly
        params[:0] = [("cython", level) for level in levels]
    return params


#: The event loops the asyncio tests run on; uvloop where it is installed (the test
#: extra installs it wherever it has wheels).
LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(autouse=True)
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The asyncio tests (test_aio_*) run once on asyncio's loop and once on uvloop:
    ``asyncio.run`` makes its loop through the policy set here."""
    kind = getattr(request, "param", "asyncio")
    if kind == "asyncio":
        yield kind
        return
    try:
        import uvloop
    except ImportError:
        if os.environ.get("CI") and sys.version_info < (3, 15):
            pytest.fail("uvloop is not installed (pip install uvloop): CI runs the asyncio tests on it")
        pytest.skip("uvloop is not installed on this interpreter")
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield kind
    finally:
        asyncio.set_event_loop_policy(previous)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.startswith("test_aio"):
        metafunc.parametrize("event_loop_kind", LOOPS, indirect=True)
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", IMPLEMENTATIONS, indirect=True)
    if "kernel" in metafunc.fixturenames:
        params = _kernel_params()
        ids = [name if name == "python" else f"{name}-{level}" for name, level in params]
        metafunc.parametrize("kernel", params, indirect=True, ids=ids)
    if "cy" in metafunc.fixturenames:
        params = [param for param in _kernel_params() if param[0] == "cython"]
        metafunc.parametrize("cy", params, indirect=True, ids=[f"cython-{level}-vs-python" for _, level in params])


@pytest.fixture
def impl(request: pytest.FixtureRequest) -> Any:
    return _impl.load(request.param)


@pytest.fixture
def kernel(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _at_level(*request.param)


@pytest.fixture
def cy(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _at_level(*request.param)


def _at_level(name: str, level: str) -> Iterator[Any]:
    module = _impl.load(name)
    before = module.get_simd()
    module.set_simd(level)
    try:
        yield module
    finally:
        module.set_simd(before)


# -- which implementation each test ran on ------------------------------------------

_ran: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _uses(code: Any, name: str) -> bool:
    """Whether a test function's code reads the argument ``name`` (itself or in a
    nested function)."""
    if name in code.co_cellvars:
        return True
    for ins in dis.get_instructions(code):
        # LOAD_FAST and its variants: LOAD_FAST_LOAD_FAST (3.13) names two locals,
        # LOAD_FAST_BORROW (3.14) is the same read.
        if "LOAD" in ins.opname and ("FAST" in ins.opname or ins.opname == "LOAD_DEREF"):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            if name in names:
                return True
    return False


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    # A test that takes an implementation and ignores it would count once per
    # implementation while testing neither: the counts below would lie.
    unused = []
    for item in items:
        function = getattr(item, "function", None)
        for name in ("impl", "kernel", "cy"):
            if (
                function is not None
                and name in getattr(item, "fixturenames", ())
                and name in function.__code__.co_varnames[: function.__code__.co_argcount]
            ):
                if not _uses(function.__code__, name):
                    unused.append(f"{item.nodeid} ({name})")
    if unused:
        raise pytest.UsageError("tests take an implementation fixture and never use it:\n  " + "\n  ".join(sorted(set(unused))))


def _implementation_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        if "impl" in callspec.params:
            return str(callspec.params["impl"])
        if "kernel" in callspec.params:
            return str(callspec.params["kernel"][0])
        if "cy" in callspec.params:
            return "both"
    return "both"  # tests that compare the implementations with each other


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        item_impl = getattr(report, "fastws_impl", "both")
        _ran[item_impl][report.outcome] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    outcome.get_result().fastws_impl = _implementation_of(item)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("fastws implementations")
    for name in sorted(_ran):
        counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(_ran[name].items()))
        terminalreporter.write_line(f"{name}: {counts}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run that silently lost one implementation's tests must not pass.
    if exitstatus == 0 and session.testscollected and not session.config.option.collectonly:
        selected = session.config.option.keyword or session.config.option.markexpr
        missing = [name for name in IMPLEMENTATIONS if not _ran[name]["passed"]]
        if missing and not selected:
            session.exitstatus = 1
            print(f"\nfastws: no test passed on {', '.join(missing)}")
