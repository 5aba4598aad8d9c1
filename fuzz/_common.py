"""What every fuzz target shares: both implementations, chunkings, outcome records.

A target's input is a few bytes of settings (role, limits, a chunking seed) followed
by the bytes under test, so that the corpus stays readable and mutations of the
wire bytes keep their meaning.
"""

from __future__ import annotations

import functools
import os
import random
import sys
from typing import Any, Callable, List, Optional, Tuple

import atheris

with atheris.instrument_imports():
    import fastws
    from fastws import _impl

    try:  # the protocol layer, where it exists: imported here to be instrumented
        import fastws.protocol
        import fastws.protocol._deflate
        import fastws.protocol._handshake
        import fastws.protocol._http
    except ImportError:
        pass
    from fastws.errors import ProtocolError

CY = _impl.load("cython")
PY = _impl.load("python")
IMPLS = (CY, PY)

# Every SIMD level this CPU runs gets its share of the Cython runs.
LEVELS = CY.simd_levels()


def cut(data: bytes, seed: int) -> List[bytes]:
    """``data`` split into chunks chosen by ``seed``: 0 feeds it whole, 1 one byte at
    a time, others at random sizes biased towards header-sized pieces."""
    if seed == 0 or not data:
        return [data]
    if seed == 1:
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(data):
        size = rng.choice((0, 1, 1, 2, 3, 4, 7, 9, 13, 14, 15, 64, 200, 4096))
        pieces.append(data[start : start + size])
        start += size
    return pieces


def as_buffer(chunk: bytes, kind: int) -> Any:
    """``chunk`` as another buffer type: bytes, bytearray, memoryview, or a
    non-contiguous memoryview (every other byte of a doubled copy)."""
    kind %= 4
    if kind == 0:
        return chunk
    if kind == 1:
        return bytearray(chunk)
    if kind == 2:
        return memoryview(chunk)
    doubled = bytearray(2 * len(chunk))
    doubled[::2] = chunk
    return memoryview(bytes(doubled))[::2]


def error_record(error: BaseException) -> Tuple[Any, ...]:
    """What must match between implementations when they fail: the type, the close
    code, the message and, for InvalidUtf8, the position."""
    return (
        type(error).__name__,
        getattr(error, "close_code", None),
        str(error),
        getattr(error, "position", None),
    )


def frame_record(frame: Any) -> Tuple[Any, ...]:
    return (int(frame.opcode), frame.payload, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3)


def header_record(header: Any) -> Optional[Tuple[Any, ...]]:
    if header is None:
        return None
    return (
        header.fin,
        header.rsv1,
        header.rsv2,
        header.rsv3,
        int(header.opcode),
        header.masked,
        header.mask,
        header.payload_length,
        header.header_length,
    )


def same(name: str, cython: Any, python: Any, data: bytes) -> None:
    """Fails the run when the two implementations disagree."""
    if cython != python:
        raise AssertionError(f"{name}: cython and python differ on {data!r}\n  cython: {cython!r}\n  python: {python!r}")


# Bugs found and reported but not fixed yet, as (exception type, text in its message).
# FASTWS_FUZZ_SKIP_KNOWN=1 lets a run go past them to look for others; CI never sets it.
KNOWN_BUGS: list = []  # (exception type, text) of open bugs a developer's run may skip
SKIP_KNOWN = os.environ.get("FASTWS_FUZZ_SKIP_KNOWN", "") == "1"


def _tolerating_known_bugs(test_one_input: Callable[[bytes], None]) -> Callable[[bytes], None]:
    @functools.wraps(test_one_input)
    def wrapper(data: bytes) -> None:
        try:
            test_one_input(data)
        except Exception as error:
            if not any(isinstance(error, kind) and text in str(error) for kind, text in KNOWN_BUGS):
                raise

    return wrapper


def run(test_one_input: Callable[[bytes], None]) -> None:
    if SKIP_KNOWN:
        test_one_input = _tolerating_known_bugs(test_one_input)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


__all__ = [
    "CY",
    "IMPLS",
    "LEVELS",
    "PY",
    "ProtocolError",
    "as_buffer",
    "cut",
    "error_record",
    "fastws",
    "frame_record",
    "header_record",
    "run",
    "same",
]
