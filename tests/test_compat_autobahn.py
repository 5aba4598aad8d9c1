"""fastws.compat.autobahn: autobahn's protocol gets fastws' masker and validator, with
the API and results of autobahn's own, on both implementations."""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest
from autobahn.websocket import protocol, utf8validator, xormasker
from hypothesis import given
from hypothesis import strategies as st

from fastws.compat import autobahn as adapter
from fastws.compat.wsaccel import utf8validator as compat_utf8validator
from fastws.compat.wsaccel import xormask as compat_xormask

NAMES = [
    (xormasker, "create_xor_masker"),
    (protocol, "create_xor_masker"),
    (utf8validator, "Utf8Validator"),
    (protocol, "Utf8Validator"),
]
ORIGINALS = {(owner, name): getattr(owner, name) for owner, name in NAMES}


@pytest.fixture(autouse=True)
def core(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(compat_xormask, "_fastws", impl)
    monkeypatch.setattr(compat_utf8validator, "_fastws", impl)
    yield impl
    adapter.uninstall()


def test_install_and_uninstall() -> None:
    assert adapter.install() is True and adapter.install() is False
    assert adapter.installed()
    assert protocol.create_xor_masker is adapter.create_xor_masker
    assert protocol.Utf8Validator is adapter.Utf8Validator
    assert adapter.uninstall() is True and adapter.uninstall() is False
    for (owner, name), original in ORIGINALS.items():
        assert getattr(owner, name) is original


@given(st.binary(min_size=4, max_size=4), st.lists(st.binary(max_size=200), max_size=5), st.sampled_from([None, 0, 127, 128, 10**6]))
def test_masker_matches_autobahn(mask: bytes, chunks: List[bytes], length: Any) -> None:
    ours, theirs = adapter.create_xor_masker(mask, length), ORIGINALS[(xormasker, "create_xor_masker")](mask, length)
    for chunk in chunks:
        assert ours.process(chunk) == theirs.process(chunk)
        assert ours.pointer() == theirs.pointer()
    ours.reset()
    theirs.reset()
    assert ours.process(b"\x00" * 5) == theirs.process(b"\x00" * 5)


texts = st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass"))


@given(st.lists(texts | st.binary(max_size=10), max_size=5))
def test_validator_matches_autobahn(chunks: List[bytes]) -> None:
    ours, theirs = adapter.Utf8Validator(), ORIGINALS[(utf8validator, "Utf8Validator")]()
    for chunk in chunks:
        got, expected = ours.validate(chunk), theirs.validate(chunk)
        # What autobahn's protocol reads: [0], [1] and [3].
        assert (got[0], got[1], got[3]) == (expected[0], expected[1], expected[3])
        if not got[0]:
            break
