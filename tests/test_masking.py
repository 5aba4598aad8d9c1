"""apply_mask, apply_mask_into and Masker (RFC 6455 §5.3), at every kernel level."""

from __future__ import annotations

import array
import os

import pytest
import reference

KEY = b"\x37\xfa\x21\x3d"
# Sizes around every kernel's block and tail boundaries.
SIZES = sorted({*range(0, 80), 125, 126, 127, 128, 255, 256, 257, 511, 512, 513, 1000, 1024, 4095, 4096, 65535, 65536, 65537, 1 << 20})


@pytest.mark.parametrize("size", SIZES)
def test_apply_mask_matches_reference(kernel, size):
    data = os.urandom(size)
    key = os.urandom(4)
    assert kernel.apply_mask(data, key) == reference.mask(data, key)


def test_rfc6455_example(kernel):
    # RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    assert kernel.apply_mask(b"Hello", KEY) == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("offset", range(0, 9))
def test_apply_mask_misaligned_views(kernel, offset):
    backing = bytearray(os.urandom(300))
    view = memoryview(backing)[offset : offset + 200]
    assert kernel.apply_mask(view, KEY) == reference.mask(bytes(view), KEY)


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, memoryview, lambda b: array.array("B", b), lambda b: memoryview(bytes(x for byte in b for x in (byte, 0)))[::2]],
    ids=["bytes", "bytearray", "memoryview", "array", "noncontiguous"],
)
def test_apply_mask_accepts_any_buffer(kernel, make):
    data = bytes(range(100))
    result = kernel.apply_mask(make(data), bytearray(KEY))
    assert type(result) is bytes
    assert result == reference.mask(data, KEY)


def test_apply_mask_wide_items(kernel):
    data = array.array("I", range(50))
    assert kernel.apply_mask(data, KEY) == reference.mask(data.tobytes(), KEY)


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytes(8)])
def test_mask_must_be_four_bytes(kernel, key):
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        kernel.apply_mask(b"data", key)
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        kernel.Masker(key)
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        kernel.apply_mask_into(bytearray(4), key)


@pytest.mark.parametrize("bad", ["text", 42, None, [1, 2, 3, 4]])
def test_non_buffers_are_type_errors(kernel, bad):
    with pytest.raises(TypeError, match="bytes-like object is required"):
        kernel.apply_mask(bad, KEY)
    with pytest.raises(TypeError, match="bytes-like object is required"):
        kernel.apply_mask(b"data", bad)


@pytest.mark.parametrize("size", [0, 1, 3, 8, 17, 64, 125, 1000, 65536 + 3])
def test_apply_mask_into_masks_in_place(kernel, size):
    data = os.urandom(size)
    buffer = bytearray(data)
    assert kernel.apply_mask_into(buffer, KEY) is None
    assert buffer == reference.mask(data, KEY)
    kernel.apply_mask_into(memoryview(buffer), KEY)  # masking twice restores
    assert buffer == data


def test_apply_mask_into_a_slice_touches_only_the_slice(kernel):
    buffer = bytearray(b"\x00" * 20)
    kernel.apply_mask_into(memoryview(buffer)[3:11], KEY)
    assert buffer == bytes(3) + (KEY * 2) + bytes(9)


@pytest.mark.parametrize("target", [b"read-only", memoryview(b"read-only"), memoryview(bytearray(8))[::2], "text"])
def test_apply_mask_into_needs_a_writable_contiguous_buffer(kernel, target):
    with pytest.raises(TypeError, match="writable, C-contiguous"):
        kernel.apply_mask_into(target, KEY)


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1, 1], [3, 5, 7], [0, 4, 0, 9], [2, 130, 1, 64]])
def test_masker_continues_the_mask_across_calls(kernel, chunks):
    data = os.urandom(sum(chunks))
    masker = kernel.Masker(KEY)
    pieces, start = [], 0
    for size in chunks:
        pieces.append(masker.process(data[start : start + size]))
        start += size
    assert b"".join(pieces) == reference.mask(data, KEY)
    masker.reset()
    assert masker.process(data[:5]) == reference.mask(data[:5], KEY)
