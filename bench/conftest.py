"""pytest-benchmark setup: every benchmark runs for each fastws implementation and
SIMD level (``contender`` fixture); ids read "cython-avx2", "python"."""

from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import pytest

from fastws import _impl


def _contenders() -> List[Tuple[str, str]]:
    contenders = [("cython", level) for level in _impl.load("cython").simd_levels()]
    return contenders + [("python", "none")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contender" in metafunc.fixturenames:
        params = _contenders()
        ids = [name if name == "python" else f"{name}-{level}" for name, level in params]
        metafunc.parametrize("contender", params, indirect=True, ids=ids)


@pytest.fixture
def contender(request: pytest.FixtureRequest) -> Iterator[Any]:
    name, level = request.param
    module = _impl.load(name)
    before = module.get_simd()
    module.set_simd(level)
    yield module
    module.set_simd(before)
