"""fastws.compat.wsaccel.xormask against the real wsaccel, on both implementations."""

from __future__ import annotations

import array
from typing import Any, Iterator, List

import pytest
import wsaccel.xormask as real
from compat_helpers import as_kind, kinds
from hypothesis import given
from hypothesis import strategies as st

from fastws.compat.wsaccel import xormask as compat


@pytest.fixture(autouse=True)
def adapter(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(compat, "_fastws", impl)
    yield


@given(st.binary(min_size=4, max_size=4), st.lists(st.binary(max_size=300), max_size=6), kinds, kinds, st.booleans())
def test_masks_like_wsaccel(mask: bytes, chunks: List[bytes], mask_kind: str, kind: str, reset: bool) -> None:
    maskers = [real.XorMaskerSimple(as_kind(mask, mask_kind)), compat.XorMaskerSimple(as_kind(mask, mask_kind))]
    for position, chunk in enumerate(chunks):
        if reset and position == 1:
            for masker in maskers:
                masker.reset()
        expected, got = (masker.process(as_kind(chunk, kind)) for masker in maskers)
        assert type(got) is bytes and got == expected
        assert maskers[1].pointer() == maskers[0].pointer()


def test_wsaccel_example() -> None:
    masker = compat.XorMaskerSimple(b"\xf0\xf0\x0f\x0f")
    assert masker.process(b"\x00" * 6) == b"\xf0\xf0\x0f\x0f\xf0\xf0"
    assert masker.pointer() == 6
    assert masker.process(b"\x00" * 6) == b"\x0f\x0f\xf0\xf0\x0f\x0f"
    assert masker.pointer() == 12


BAD_MASKS = [b"abc", b"abcde", None, "abcd", [1, 2, 3, 4], array.array("i", [1, 2, 3, 4])]
BAD_DATA = ["abc", 3, array.array("i", [1]), memoryview(b"abcd").cast("B", (2, 2))]


@pytest.mark.parametrize("mask", BAD_MASKS, ids=repr)
def test_refuses_masks_like_wsaccel(mask: Any) -> None:
    with pytest.raises(Exception) as expected:
        real.XorMaskerSimple(mask)
    with pytest.raises(expected.type) as got:
        compat.XorMaskerSimple(mask)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("data", BAD_DATA, ids=repr)
def test_refuses_data_like_wsaccel(data: Any) -> None:
    with pytest.raises(Exception) as expected:
        real.XorMaskerSimple(b"abcd").process(data)
    with pytest.raises(expected.type) as got:
        compat.XorMaskerSimple(b"abcd").process(data)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("data", [None, b"", memoryview(b"xy").cast("c")], ids=repr)
def test_accepts_data_like_wsaccel(data: Any) -> None:
    assert compat.XorMaskerSimple(b"abcd").process(data) == real.XorMaskerSimple(b"abcd").process(data)


def test_null_masker() -> None:
    for module in (real, compat):
        masker = module.XorMaskerNull(b"abcd")
        data = bytearray(b"xyz")
        assert masker.process(data) is data
        assert masker.process("ab") == "ab"
        assert masker.pointer() == 5
        masker.reset()
        assert masker.pointer() == 0
        assert module.XorMaskerNull().pointer() == 0


def test_create_xor_masker() -> None:
    for length in (None, 5, 1 << 20):
        masker = compat.createXorMasker(b"abcd", length)
        assert type(masker) is compat.XorMaskerSimple
        assert masker.process(b"\x00\x00") == b"ab"
    assert type(compat.createXorMasker(b"abcd", len=9)) is compat.XorMaskerSimple
    with pytest.raises(ValueError, match="mask should be 4byte."):
        compat.createXorMasker(b"abc")
