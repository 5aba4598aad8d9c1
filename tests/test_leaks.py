"""Leak check of the Cython paths: every entry point of the extension called millions
of times, with valid and invalid input, so that exceptions are raised from C, and
with every kind of buffer. Neither the process's RSS nor the count of live Python
memory blocks may grow past a small slack.

The default run makes about 4 million calls into C in about 10 seconds;
FASTWS_LEAK_ROUNDS=N multiplies that by N (tools/leaks.sh runs a long one).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any, Callable, List, Tuple

import pytest
from conftest import PURE_ONLY

from fastws import InvalidUtf8, ProtocolError, _impl

pytestmark = pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: no extension to check")

ROUNDS = max(1, int(os.environ.get("FASTWS_LEAK_ROUNDS", "1")))
KEY = b"\x37\xfa\x21\x3d"
MiB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
# Under AddressSanitizer (tools/sanitize.sh) freed memory sits in a quarantine, so
# RSS grows by design: only the count of live blocks is checked there.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")


def rss() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * PAGE


def noncontiguous(data: bytes) -> memoryview:
    doubled = bytearray(2 * len(data))
    doubled[::2] = data
    return memoryview(bytes(doubled))[::2]


def expect(error: type, call: Callable[[], Any]) -> None:
    try:
        call()
    except error:
        return
    raise AssertionError(f"{call} did not raise {error.__name__}")


def masking(m: Any) -> Callable[[], None]:
    text = bytes(range(256)) * 4
    view = noncontiguous(text[:100])
    buffer = bytearray(text)
    masker = m.Masker(KEY)

    def run() -> None:
        m.apply_mask(text, KEY)
        m.apply_mask(view, bytearray(KEY))
        m.apply_mask(b"", KEY)
        m.apply_mask_into(buffer, KEY)
        masker.process(text[:7])
        masker.process(memoryview(text)[3:50])
        masker.reset()
        expect(ValueError, lambda: m.apply_mask(text, b"abc"))
        expect(TypeError, lambda: m.apply_mask("text", KEY))
        expect(TypeError, lambda: m.apply_mask_into(text, KEY))
        expect(ValueError, lambda: m.Masker(b"12345"))

    return run


def utf8(m: Any) -> Callable[[], None]:
    good = "déjà vu € 𝄞 ".encode() * 10
    bad = good + b"\xed\xa0\x80" + good
    view = noncontiguous(good[:40])

    def run() -> None:
        m.validate_utf8(good)
        m.validate_utf8(bad)
        m.validate_utf8(view)
        validator = m.Utf8Validator()
        validator.feed(good[:11])
        validator.feed(bytearray(good[11:]))
        validator.finish()
        validator.reset()
        expect(InvalidUtf8, lambda: validator.feed(bad))
        expect(InvalidUtf8, lambda: validator.feed(b"a"))
        expect(InvalidUtf8, validator.finish)
        validator.reset()
        validator.feed(b"\xe2\x82")
        expect(InvalidUtf8, validator.finish)
        expect(TypeError, lambda: m.validate_utf8(12))

    return run


def headers(m: Any) -> Callable[[], None]:
    masked = m.encode_frame(1, b"Hello", mask=KEY)
    long = m.encode_frame(2, bytes(70000))[:10]
    view = noncontiguous(masked)

    def run() -> None:
        m.parse_header(masked)
        m.parse_header(long)
        m.parse_header(view)
        m.parse_header(bytearray(masked), 0)
        m.parse_header(masked[:1])
        expect(ProtocolError, lambda: m.parse_header(b"\x83\x00"))
        expect(ProtocolError, lambda: m.parse_header(b"\x09\x00"))
        expect(ProtocolError, lambda: m.parse_header(b"\x82\x7f\x80" + bytes(7)))
        expect(ValueError, lambda: m.parse_header(masked, 99))

    return run


def closes(m: Any) -> Callable[[], None]:
    def run() -> None:
        m.parse_close(b"\x03\xe8bye")
        m.parse_close(bytearray(b"\x0f\xa0"))
        m.parse_close(b"")
        m.encode_close(1000, "bye")
        expect(ProtocolError, lambda: m.parse_close(b"\x03"))
        expect(ProtocolError, lambda: m.parse_close(b"\x03\xed"))
        expect(InvalidUtf8, lambda: m.parse_close(b"\x03\xe8\xff"))
        expect(ProtocolError, lambda: m.parse_close(b"\x03\xe8" + b"a" * 124))
        expect(ValueError, lambda: m.encode_close(1005))

    return run


def frames(m: Any) -> Callable[[], None]:
    wire = m.encode_frame(1, b"Hello", mask=KEY) + m.encode_frame(2, bytes(300), mask=KEY, fin=False) + m.encode_frame(9, b"ping", mask=KEY)
    big = m.encode_frame(2, bytes(70000), mask=KEY)
    unmasked = m.encode_frame(1, b"Hello")

    def run() -> None:
        parser = m.FrameParser("server")
        parser.feed(wire)
        for start in range(0, len(wire), 5):
            parser.feed(memoryview(wire)[start : start + 5])
        parser.feed(big[:3])
        parser.feed(bytearray(big[3:9000]))
        parser.pending_header
        parser.pending_payload(100)
        parser.feed(big[9000:])
        parser.feed(noncontiguous(wire))
        m.encode_frame(2, bytes(200), mask=KEY)
        m.encode_frame(1, bytearray(b"x"), rsv1=True)
        # Errors raised from C, with frames completed before them, and a parser
        # abandoned halfway through a frame.
        failing = m.FrameParser("server")
        data = bytearray(wire + unmasked)
        expect(ProtocolError, lambda: failing.feed(data))
        data.extend(b"resizable: no buffer export leaked")
        expect(ProtocolError, lambda: failing.feed(wire))
        expect(ProtocolError, lambda: m.FrameParser("client", max_frame_size=10).feed(b"\x82\x7e\x01\x00"))
        abandoned = m.FrameParser("server", max_frame_size=None)
        abandoned.feed(big[:5000])
        expect(ValueError, lambda: abandoned.pending_payload(10**6))
        expect(ValueError, lambda: m.FrameParser("peer"))
        expect(ValueError, lambda: m.encode_frame(9, bytes(126)))

    return run


WORKLOADS: List[Tuple[str, Callable[[Any], Callable[[], None]], int]] = [
    # (name, workload, repetitions): each repetition makes 8 to 20 calls into C.
    ("masking", masking, 60_000),
    ("utf8", utf8, 40_000),
    ("headers", headers, 60_000),
    ("closes", closes, 60_000),
    ("frames", frames, 20_000),
]


@pytest.mark.parametrize("name,workload,repetitions", WORKLOADS, ids=[name for name, _, _ in WORKLOADS])
def test_no_growth(name: str, workload: Callable[[Any], Callable[[], None]], repetitions: int) -> None:
    module = _impl.load("cython")
    run = workload(module)
    warm_up = repetitions // 10
    for _ in range(warm_up):
        run()
    gc.collect()
    blocks, resident = sys.getallocatedblocks(), rss()
    for _ in range(repetitions * ROUNDS):
        run()
    gc.collect()
    grown_blocks, grown_rss = sys.getallocatedblocks() - blocks, rss() - resident
    print(f"\n{name}: {repetitions * ROUNDS} repetitions, blocks {grown_blocks:+d}, RSS {grown_rss:+d} bytes")
    # A leak of one object per repetition would be tens of thousands of blocks.
    assert grown_blocks < 100, f"{name}: {grown_blocks} more Python memory blocks after {repetitions * ROUNDS} repetitions"
    assert grown_rss < 2 * MiB or UNDER_ASAN, f"{name}: RSS grew by {grown_rss} bytes after {repetitions * ROUNDS} repetitions"
