"""fastws.compat: install(*names), uninstall(*names) and status()."""

from __future__ import annotations

import subprocess
import sys
from typing import Iterator

import pytest

import fastws
import fastws.compat as compat


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    yield
    compat.uninstall()


def test_install_everything_importable() -> None:
    assert compat.status()["fastws"] == f"{fastws.__version__} {fastws.implementation} ({fastws.simd})"
    assert all(compat.status()[name] == "own code" for name in compat.TARGETS)
    assert compat.install() == {name: "installed" for name in compat.TARGETS}
    assert compat.install() == {name: "already installed" for name in compat.TARGETS}
    assert all(compat.status()[name].startswith("fastws") for name in compat.TARGETS)
    assert compat.uninstall() == {name: "uninstalled" for name in compat.TARGETS}
    assert compat.uninstall("wsproto") == {"wsproto": "not installed"}


def test_install_named() -> None:
    assert compat.install("wsproto", "websockets") == {"wsproto": "installed", "websockets": "installed"}
    status = compat.status()
    assert status["wsproto"] == "fastws" and status["websockets"].startswith("fastws (apply_mask")
    assert status["autobahn"] == status["wsaccel"] == "own code"


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="no fastws adapter for 'tornado'"):
        compat.install("tornado")


def test_missing_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    # A library that is not there: skipped by default, an error when named.
    for name in ("autobahn", "autobahn.websocket"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(compat, "_importable", lambda name: name != "wsproto")
    report = compat.install()
    assert report["wsproto"] == "not importable"
    assert report["autobahn"].startswith("failed: ")
    monkeypatch.setattr(compat, "_importable", lambda name: False)
    assert compat.status()["wsproto"] == "not importable"
    with pytest.raises(ImportError):
        compat.install("autobahn")


def test_command_line_example() -> None:
    program = "import fastws.compat as c; print(c.install())"
    output = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True).stdout
    assert output.strip() == str({name: "installed" for name in compat.TARGETS})
