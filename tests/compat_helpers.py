"""What the compat adapter tests share: running one scenario with and without an adapter."""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any, Callable, Tuple

import pytest


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
