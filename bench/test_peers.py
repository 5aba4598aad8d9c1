"""fastws against every installed peer, on the cases of ``python -m fastws bench``:
one group per operation and input, so one table compares them all.

    pytest bench/test_peers.py --benchmark-only --benchmark-group-by=group
    (add --benchmark-max-time=0.1 for a shorter run; -k "parse" for one operation)

fastws runs at every SIMD level this CPU has and in pure Python; a peer that is not
installed is skipped (it is a bench extra: ``pip install '.[bench]'``), and an adapter
that fails its correctness check fails here.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Tuple

import pytest

import fastws
from fastws import _impl
from fastws.cli import bench, peers


def _fastws() -> List[Tuple[str, Any, Any]]:
    """(label, module, SIMD level) for each level, and pure Python."""
    chosen = []
    if fastws.implementation == "cython":
        module = _impl.load("cython")
        chosen += [(f"fastws {level}", module, level) for level in module.simd_levels()]
    return chosen + [("fastws python", _impl.load("python"), None)]


@functools.lru_cache(maxsize=None)
def _peers(operation: str) -> Tuple[Dict[str, peers.Loaded], Dict[str, str]]:
    """The peers of ``operation`` that load and pass their check; why the others do not."""
    loaded, left_out = peers.load(operation)
    reasons = {reason.split(": ", 1)[0]: reason for reason in left_out}
    return {item.adapter.label: item for item in loaded}, reasons


def _params() -> List[Any]:
    params = []
    for case in bench.all_cases():
        who = _fastws() + [(a.label, None, None) for a in peers.ADAPTERS if a.operation == case.operation]
        for label, module, level in who:
            params.append(pytest.param(case, label, module, level, id=f"{case.operation}-{case.name}-{label}".replace(" ", "_")))
    return params


@pytest.mark.parametrize("case, label, module, level", _params())
def test_operation(benchmark: Any, case: bench.Case, label: str, module: Any, level: Any) -> None:
    benchmark.group = f"{case.operation} {case.name}"
    benchmark.extra_info.update(payload_bytes=case.payload_bytes, frames=case.frames)
    arguments = case.arguments()
    if module is None:  # a peer
        loaded, reasons = _peers(case.operation)
        if label not in loaded:
            reason = reasons[label]
            if "not installed" in reason:
                pytest.skip(reason)
            pytest.fail(reason)
        answer = benchmark(loaded[label].call, *arguments)
    else:
        fastws_adapters = [a for a in peers.fastws_adapters(module, label) if a.operation == case.operation]
        with bench._simd(module if level else None, level):
            (item,), left_out = peers.load(case.operation, fastws_adapters)
            answer = benchmark(item.call, *arguments)
    assert case.expect(answer)
