"""The three hot paths, grouped by operation and size so one table compares contenders.

    pytest bench --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import os

import pytest

from fastws import Opcode, encode_frame
from fastws.cli.bench import MIXED_TEXT, small_masked_frames

SIZES = {"8B": 8, "125B": 125, "1KiB": 1024, "64KiB": 1 << 16, "1MiB": 1 << 20, "16MiB": 1 << 24}
TEXTS = {"ascii": "websocket frames " * 8, "mixed": MIXED_TEXT}


@pytest.mark.parametrize("size", SIZES)
def test_apply_mask(benchmark, contender, size):
    data, key = os.urandom(SIZES[size]), os.urandom(4)
    benchmark.group = f"apply_mask {size}"
    benchmark(contender.apply_mask, data, key)


@pytest.mark.parametrize("size", SIZES)
def test_apply_mask_into(benchmark, contender, size):
    buffer, key = bytearray(os.urandom(SIZES[size])), os.urandom(4)
    benchmark.group = f"apply_mask_into {size}"
    benchmark(contender.apply_mask_into, buffer, key)


@pytest.mark.parametrize("size", ["4KiB", "64KiB", "1MiB"])
@pytest.mark.parametrize("text", TEXTS)
def test_validate_utf8(benchmark, contender, text, size):
    length = {"4KiB": 4096, "64KiB": 1 << 16, "1MiB": 1 << 20}[size]
    data = (TEXTS[text] * (length // len(TEXTS[text]) + 1)).encode()[:length]
    while not contender.validate_utf8(data):  # trim a character cut in half
        data = data[:-1]
    benchmark.group = f"validate_utf8 {text} {size}"
    assert benchmark(contender.validate_utf8, data) is True


@pytest.mark.parametrize("size", ["16B", "1KiB"])
def test_frame_parser(benchmark, contender, size):
    count = {"16B": 100_000, "1KiB": 20_000}[size]
    chunks = small_masked_frames(count, {"16B": 16, "1KiB": 1024}[size])

    def parse() -> int:
        parser = contender.FrameParser("server")
        return sum(len(parser.feed(chunk)) for chunk in chunks)

    benchmark.group = f"FrameParser {count} x {size} masked, 64 KiB chunks"
    assert benchmark.pedantic(parse, rounds=5 if contender.__name__.endswith("_pure") else 20) == count


def test_frame_parser_1mib_frames(benchmark, contender):
    frame = encode_frame(Opcode.BINARY, os.urandom(1 << 20), mask=os.urandom(4))
    stream = frame * 16
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def parse() -> int:
        parser = contender.FrameParser("server", max_frame_size=None)
        return sum(len(parser.feed(chunk)) for chunk in chunks)

    benchmark.group = "FrameParser 16 x 1 MiB masked, 64 KiB chunks"
    assert benchmark(parse) == 16
