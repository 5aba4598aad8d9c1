"""Types: ``mypy --strict`` on the package and on a typed usage example, and stubtest
on the extension's stub, against whichever fastws is imported (the source tree in a
development install, site-packages when the suite runs against a wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from conftest import PURE_ONLY

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "typed_usage.py"
ALLOWLIST = ROOT / "stubtest-allowlist.txt"

# The whole package is held to --strict; pyproject.toml says which optional peers
# ship no types.
STRICT_MODULES = ["-p", "fastws", "--config-file", str(ROOT / "pyproject.toml")]


def _run(args: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # From an empty directory, so that a source tree in the working directory cannot
    # shadow the fastws under test; no cache, so nothing is written anywhere.
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPY_FORCE_COLOR": "0"},
    )


def _mypy(targets: List[str], cwd: Path) -> None:
    result = _run(["mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, *targets], cwd)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_is_strictly_typed(tmp_path: Path) -> None:
    _mypy(STRICT_MODULES, tmp_path)


def test_typed_usage_example(tmp_path: Path) -> None:
    _mypy([str(EXAMPLE)], tmp_path)
    result = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "typed usage OK" in result.stdout


@pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: no extension to check the stub against")
def test_stub_matches_extension(tmp_path: Path) -> None:
    result = _run(["mypy.stubtest", "fastws._speedups", "--allowlist", str(ALLOWLIST)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
