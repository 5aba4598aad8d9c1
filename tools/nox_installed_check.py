"""A pytest plugin for runs against an installed fastws (noxfile.py, tools/wheel_check.sh):
``-p nox_installed_check`` with tools/ on PYTHONPATH. It names the fastws under test in
the header and fails the run unless that fastws comes from site-packages and, unless
FASTWS_TEST_PURE_ONLY=1, runs on its extension: a run that silently tested the source
tree, or a wheel without its extension, must not pass."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest

import fastws

PURE_ONLY = os.environ.get("FASTWS_TEST_PURE_ONLY", "") not in ("", "0")


def pytest_report_header(config: pytest.Config) -> str:
    return f"fastws {fastws.__version__} from {Path(fastws.__file__).parent} ({fastws.implementation}, simd {fastws.simd})"


def pytest_sessionstart(session: pytest.Session) -> None:
    package = Path(fastws.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert package.parent == site_packages, f"fastws imported from {package}, not from {site_packages}"
    if not PURE_ONLY:
        assert fastws.implementation == "cython", f"the installed fastws has no extension: {fastws.implementation_error}"
