"""What the compat adapter tests share: running one scenario with and without an adapter."""

from __future__ import annotations

import array
import itertools
from types import ModuleType
from typing import Any, Callable, Tuple

import pytest
from hypothesis import strategies as st


def run(adapter: ModuleType, with_adapter: bool, scenario: Callable[[], Any]) -> Any:
    """``scenario()`` with ``adapter`` installed or not; uninstalled afterwards either way."""
    if with_adapter:
        adapter.install()
    try:
        return scenario()
    finally:
        adapter.uninstall()


def same_with_and_without(
    adapter: ModuleType, scenario: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, random_source: Tuple[Any, str]
) -> Any:
    """Runs ``scenario`` without, then with ``adapter``, asserts both give the same
    result, and returns it. ``random_source`` (module, name) is where the library draws
    its mask keys: it gives the same deterministic sequence on both runs."""
    results = []
    for with_adapter in (False, True):
        counter = itertools.count()
        monkeypatch.setattr(*random_source, lambda size: bytes((next(counter) * 41 + k) & 0xFF for k in range(size)))
        results.append(run(adapter, with_adapter, scenario))
    assert results[1] == results[0]
    return results[0]


#: The buffer kinds wsaccel accepts, for tests that compare the adapters with it.
kinds = st.sampled_from(["bytes", "bytearray", "memoryview", "array", "strided"])


def as_kind(data: bytes, kind: str) -> Any:
    """``data`` as a buffer of the named kind (strided: a non-contiguous view)."""
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(data)
    if kind == "array":
        return array.array("B", data)
    if kind == "strided":
        return memoryview(bytes(byte for pair in zip(data, b"\x00" * len(data)) for byte in pair))[::2]
    return data
