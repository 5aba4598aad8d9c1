"""Threads: the stateful objects (FrameParser, Utf8Validator, Masker) and the SIMD switch
under threads hammering separate and shared objects, on both implementations.

A separate object per thread must give exactly the single-threaded result. A shared
object must, for every call, either do the whole call or refuse it with the RuntimeError
that names the object (``_messages.IN_USE``), and its state must stay consistent with the
calls that went through; no call may crash or corrupt memory. On a free-threaded
interpreter the threads really run in parallel; on a GIL build a tiny switch interval
makes them interleave inside the pure-Python methods.

FASTWS_STRESS_SECONDS (default 0.3) is how long each hammering lasts: CI's stress stage
raises it. FASTWS_REQUIRE_FREE_THREADING=1 (CI's free-threaded stage) turns the skip of
the free-threading test on a GIL build into a failure.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import sysconfig
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest

from fastws import _messages as msg
from fastws.codes import Opcode
from fastws.errors import InvalidUtf8, ProtocolError

SECONDS = float(os.environ.get("FASTWS_STRESS_SECONDS", "0.3"))
THREADS = 4
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
KEY = b"\x37\xfa\x21\x3d"


@pytest.fixture(autouse=True)
def _interleave() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _hammer(work: Callable[[int], None], threads: int = THREADS) -> None:
    """Runs ``work(index)`` in a loop on each thread for SECONDS, all released at once;
    re-raises the first exception any thread hit."""
    barrier = threading.Barrier(threads)
    errors: List[BaseException] = []
    deadline = time.monotonic() + SECONDS + 10  # the barrier's own wait is not counted

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            stop = time.monotonic() + SECONDS
            while time.monotonic() < min(stop, deadline):
                work(index)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    pool = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]


def _in_use(name: str) -> str:
    return msg.IN_USE.format(name=name)


def _frames_stream(impl: Any, rng: random.Random, count: int) -> List[bytes]:
    """Masked frames (a client's, for a server parser) with random payloads and sizes."""
    frames = []
    for _ in range(count):
        payload = rng.randbytes(rng.choice((0, 1, 125, 126, 1000, 70000)))
        opcode = rng.choice((Opcode.BINARY, Opcode.CONTINUATION))
        frames.append(impl.encode_frame(opcode, payload, fin=rng.random() < 0.5, mask=rng.randbytes(4)))
    return frames


# -- one object per thread: exactly the single-threaded results ------------------------


def test_separate_objects_give_the_single_threaded_results(impl: Any) -> None:
    rng = random.Random(1)
    wire = b"".join(_frames_stream(impl, rng, 30))
    expected_frames = impl.FrameParser("server", max_frame_size=None).feed(wire)
    text = ("déjà vu, 東京, 🎉 " * 200).encode()
    payload = rng.randbytes(5000)
    expected_masked = impl.apply_mask(payload, KEY)

    def work(index: int) -> None:
        parser = impl.FrameParser("server", max_frame_size=None)
        step = 1 + index * 37
        frames = [frame for start in range(0, len(wire), step) for frame in parser.feed(wire[start : start + step])]
        assert frames == expected_frames
        validator = impl.Utf8Validator()
        for start in range(0, len(text), 7 + index):
            validator.feed(text[start : start + 7 + index])
        validator.finish()
        assert validator.position == len(text)
        masker = impl.Masker(KEY)
        assert (
            b"".join(masker.process(payload[start : start + 3 + index]) for start in range(0, len(payload), 3 + index)) == expected_masked
        )

    _hammer(work)


# -- one object shared by every thread: a whole call or a clear refusal -----------------


class _CallsBackWhileRead:
    """A buffer whose export (PEP 688, Python 3.12+) runs ``callback`` on another thread
    first: the object reading it is mid-call then, holding its guard."""

    def __init__(self, data: bytes, callback: Callable[[], Any]) -> None:
        self.data = data
        self.callback = callback
        self.outcome: List[BaseException] = []

    def __buffer__(self, flags: int) -> memoryview:
        def other_thread() -> None:
            try:
                self.callback()
            except BaseException as error:  # noqa: BLE001 - checked by the test
                self.outcome.append(error)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        return memoryview(self.data)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="a Python-level buffer needs PEP 688 (3.12+)")
@pytest.mark.parametrize("name", ["FrameParser", "Utf8Validator"])
def test_a_second_thread_is_refused_mid_call(impl: Any, name: str) -> None:
    """Deterministic: another thread calls in while the object is reading its input."""
    if name == "FrameParser":
        target = impl.FrameParser("client")
        chunk = _CallsBackWhileRead(impl.encode_frame(Opcode.TEXT, b"hi"), lambda: target.feed(b""))
        assert [frame.payload for frame in target.feed(chunk)] == [b"hi"]
    else:
        target = impl.Utf8Validator()
        chunk = _CallsBackWhileRead("é".encode(), lambda: target.feed(b"a"))
        target.feed(chunk)
        assert target.position == 2  # the refused call fed nothing
    assert len(chunk.outcome) == 1 and isinstance(chunk.outcome[0], RuntimeError)
    assert str(chunk.outcome[0]) == _in_use(name)


def test_shared_parser_whole_frames(impl: Any) -> None:
    """Each call feeds whole frames: a call that goes through returns exactly its frames."""
    rng = random.Random(2)
    chunks = [b"".join(_frames_stream(impl, rng, 3)) for _ in range(8)]
    expected = [impl.FrameParser("server", max_frame_size=None).feed(chunk) for chunk in chunks]
    parser = impl.FrameParser("server", max_frame_size=None)

    def work(index: int) -> None:
        which = (index + int(time.monotonic() * 1e6)) % len(chunks)
        try:
            frames = parser.feed(chunks[which])
            header = parser.pending_header
        except RuntimeError as error:
            assert str(error) == _in_use("FrameParser")
            return
        assert frames == expected[which]
        assert header is None

    _hammer(work)
    assert parser.feed(chunks[0]) == expected[0]  # still whole afterwards


def test_shared_parser_split_frames_never_crash(impl: Any) -> None:
    """Frames split at random points, fed from several threads: the byte order is lost,
    so frames, ProtocolError or a refusal may come out; never a crash or a bad frame."""
    rng = random.Random(3)
    wire = b"".join(_frames_stream(impl, rng, 40))
    cuts = sorted(rng.sample(range(1, len(wire)), 200))
    pieces = [wire[start:end] for start, end in zip([0, *cuts], [*cuts, len(wire)])]
    state = {"parser": impl.FrameParser("server", max_frame_size=1 << 20)}

    def work(index: int) -> None:
        parser = state["parser"]
        piece = pieces[(index * 7919 + int(time.monotonic() * 1e6)) % len(pieces)]
        try:
            frames = parser.feed(piece)
            parser.pending_payload()
            header = parser.pending_header
        except RuntimeError as error:
            assert str(error) == _in_use("FrameParser")
            return
        except ProtocolError:
            state["parser"] = impl.FrameParser("server", max_frame_size=1 << 20)
            return
        for frame in frames:
            assert isinstance(frame, impl.Frame) and len(frame.payload) <= 1 << 20
        assert header is None or header.payload_length <= 1 << 20

    _hammer(work)


def test_shared_validator(impl: Any) -> None:
    """Whole characters per call: the position is the sum of the calls that went through."""
    chunks = [("a" * n + "é東🎉").encode() for n in range(1, 9)]
    validator = impl.Utf8Validator()
    accepted = [0] * THREADS

    def work(index: int) -> None:
        chunk = chunks[(index + int(time.monotonic() * 1e6)) % len(chunks)]
        try:
            validator.feed(chunk)
        except RuntimeError as error:
            assert str(error) == _in_use("Utf8Validator")
            return
        accepted[index] += len(chunk)

    _hammer(work)
    validator.finish()
    assert validator.position == sum(accepted)
    with pytest.raises(InvalidUtf8):
        validator.feed(b"\xff")


def test_shared_masker(impl: Any) -> None:
    """Pieces of 4n bytes keep the phase at 0: each call that goes through masks with
    the key from its start."""
    rng = random.Random(4)
    pieces = [rng.randbytes(4 * n) for n in (1, 2, 31, 256, 4096)]
    expected = [impl.apply_mask(piece, KEY) for piece in pieces]
    masker = impl.Masker(KEY)

    def work(index: int) -> None:
        which = (index + int(time.monotonic() * 1e6)) % len(pieces)
        try:
            out = masker.process(pieces[which])
        except RuntimeError as error:
            assert str(error) == _in_use("Masker")
            return
        assert out == expected[which]

    _hammer(work)


def test_simd_switch_while_masking_and_validating(impl: Any) -> None:
    """One thread cycles the SIMD level while the others mask and validate: every result
    is right whichever kernel ran."""
    levels = impl.simd_levels() or (impl.get_simd(),)
    before = impl.get_simd()
    rng = random.Random(5)
    data = rng.randbytes(100_000)
    masked = impl.apply_mask(data, KEY)
    text = ("déjà vu 東京 🎉" * 2000).encode()
    bad = text[:-1] + b"\xc3"

    def work(index: int) -> None:
        if index == 0:
            for level in levels:
                impl.set_simd(level)
            return
        assert impl.apply_mask(data, KEY) == masked
        assert impl.validate_utf8(text) and not impl.validate_utf8(bad)

    try:
        _hammer(work)
    finally:
        impl.set_simd(before)


# -- free-threaded CPython: importing the extension leaves the GIL off ------------------


def test_import_keeps_the_gil_off() -> None:
    if not FREE_THREADED:
        if os.environ.get("FASTWS_REQUIRE_FREE_THREADING", "") not in ("", "0"):
            pytest.fail(f"FASTWS_REQUIRE_FREE_THREADING is set, but {sys.executable} is not a free-threaded build")
        pytest.skip("needs a free-threaded CPython (3.14t): here the GIL is always on")
    # A fresh interpreter: the import that would re-enable the GIL warns, so -W error.
    code = (
        "import sys, fastws, fastws.protocol, fastws.aio, fastws.compat; "
        "assert fastws.implementation == 'cython', fastws.implementation_error; "
        "print(sys._is_gil_enabled())"
    )
    env = {name: value for name, value in os.environ.items() if name != "PYTHON_GIL"}
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
