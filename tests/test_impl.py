"""The selection point: FASTWS_NO_EXTENSIONS, FASTWS_SIMD, and the public namespace."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import PURE_ONLY

import fastws
from fastws import _impl


def run_python(code: str, **env: str) -> str:
    environment = {**os.environ, **env}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    return result.stdout.strip()


def test_no_extensions_selects_pure_python():
    assert run_python("import fastws; print(fastws.implementation, fastws.simd)", FASTWS_NO_EXTENSIONS="1") == "python none"


@pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: the extension is not expected")
def test_default_selects_the_extension():
    assert run_python("import fastws; print(fastws.implementation, fastws.implementation_error)") == "cython None"
    assert fastws.implementation == "cython"


@pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: the extension is not expected")
@pytest.mark.parametrize("level", ["scalar", "sse2", "avx2", "avx512", "neon"])
def test_fastws_simd_forces_a_level_capped_at_the_cpu(level):
    levels = _impl.load("cython").simd_levels()
    chosen = run_python("import fastws; print(fastws.simd)", FASTWS_SIMD=level)
    assert chosen in levels
    rank = {"scalar": 0, "sse2": 1, "neon": 1, "avx2": 2, "avx512": 3}
    assert rank[chosen] <= rank[level]
    if level in levels:
        assert chosen == level


@pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: the extension is not expected")
def test_unknown_fastws_simd_warns():
    code = "import warnings, fastws; print(fastws.simd)"
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env={**os.environ, "FASTWS_SIMD": "mmx"}
    )
    assert "FASTWS_SIMD='mmx' is not a SIMD level" in result.stderr
    assert result.stdout.strip() == _impl.load("cython").simd_levels()[-1]


def test_set_simd(impl):
    levels = impl.simd_levels()
    before = impl.get_simd()
    assert before == levels[-1]  # the best level by default
    for level in levels:
        impl.set_simd(level)
        assert impl.get_simd() == level
    impl.set_simd(before)
    with pytest.raises(ValueError, match="not available"):
        impl.set_simd("mmx")


def test_both_modules_export_the_same_names():
    if PURE_ONLY:
        pytest.skip("FASTWS_TEST_PURE_ONLY: the extension is not expected")
    assert sorted(_impl.load("cython").__all__) == sorted(_impl.load("python").__all__)


def test_public_namespace():
    for name in fastws.__all__:
        assert hasattr(fastws, name), name
    assert fastws.simd in _impl.load(fastws.implementation).simd_levels()
    assert issubclass(fastws.InvalidUtf8, fastws.ProtocolError)
    assert issubclass(fastws.ProtocolError, fastws.WebSocketError)
    with pytest.raises(AttributeError):
        fastws.no_such_name


def test_load_unknown():
    with pytest.raises(ValueError):
        _impl.load("rust")


def test_load_implementation_by_name_module_or_none(impl: Any) -> None:
    name = "cython" if impl.__name__.endswith("_speedups") else "python"
    assert fastws.load_implementation(name) is impl
    assert fastws.load_implementation(impl) is impl  # a module is given back as it is
    in_use = fastws.load_implementation()
    assert in_use is fastws.load_implementation(fastws.implementation)


@pytest.mark.parametrize("bad", ["pypy", 3, object()])
def test_load_implementation_refuses_what_is_not_one(bad: Any) -> None:
    with pytest.raises(ValueError):
        fastws.load_implementation(bad)
