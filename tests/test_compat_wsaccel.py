"""fastws.compat.wsaccel: install_wsaccel() and wsaccel's patch helpers."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any, Iterator

import pytest
import wsaccel as real_wsaccel
import wsaccel.utf8validator as real_utf8validator
import wsaccel.xormask as real_xormask

import fastws.compat
from fastws.compat import wsaccel


@pytest.fixture
def clean() -> Iterator[None]:
    yield
    wsaccel.uninstall()


def test_install_makes_imports_resolve_to_fastws(clean: None) -> None:
    assert not wsaccel.installed()
    assert fastws.compat.install_wsaccel() is True
    assert fastws.compat.install_wsaccel() is False
    assert wsaccel.installed()
    import wsaccel as imported
    from wsaccel.utf8validator import Utf8Validator
    from wsaccel.xormask import XorMaskerSimple, createXorMasker

    assert imported is wsaccel
    assert Utf8Validator is wsaccel.utf8validator.Utf8Validator
    assert XorMaskerSimple is wsaccel.xormask.XorMaskerSimple
    assert createXorMasker is wsaccel.xormask.createXorMasker
    assert imported.__version__ == real_wsaccel.__version__


def test_uninstall_restores_the_real_package(clean: None) -> None:
    wsaccel.install()
    assert fastws.compat.uninstall_wsaccel() is True
    assert fastws.compat.uninstall_wsaccel() is False
    assert sys.modules["wsaccel"] is real_wsaccel
    assert sys.modules["wsaccel.xormask"] is real_xormask
    assert sys.modules["wsaccel.utf8validator"] is real_utf8validator
    assert not wsaccel.installed()


def test_uninstall_forgets_modules_that_were_not_imported(clean: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("wsaccel", "wsaccel.xormask", "wsaccel.utf8validator"):
        monkeypatch.delitem(sys.modules, name)
    wsaccel.install()
    wsaccel.uninstall()
    assert "wsaccel" not in sys.modules and "wsaccel.xormask" not in sys.modules


def test_websocket_client_uses_it() -> None:
    # websocket-client looks for wsaccel when it is first imported: a fresh process.
    program = """
import fastws.compat, array
fastws.compat.install_wsaccel()
import websocket._abnf, websocket._utils
from websocket import ABNF
assert websocket._abnf.XorMaskerSimple is fastws.compat.wsaccel.xormask.XorMaskerSimple
assert websocket._utils.Utf8Validator is fastws.compat.wsaccel.utf8validator.Utf8Validator
assert ABNF.mask(b"abcd", b"\\x00" * 5) == b"abcda"
assert websocket._utils.validate_utf8("déjà".encode()) and not websocket._utils.validate_utf8(b"\\xff")
"""
    subprocess.run([sys.executable, "-c", program], check=True)


def test_patch_autobahn(monkeypatch: pytest.MonkeyPatch) -> None:
    import autobahn.websocket

    for name in ("Utf8Validator", "XorMaskerNull", "XorMaskerSimple", "XorMaskerShifted1"):
        monkeypatch.setattr(autobahn.websocket, name, None, raising=False)
    wsaccel.patch_autobahn()
    assert autobahn.websocket.Utf8Validator is wsaccel.utf8validator.Utf8Validator
    assert autobahn.websocket.XorMaskerNull is wsaccel.xormask.XorMaskerNull
    assert autobahn.websocket.XorMaskerSimple is wsaccel.xormask.XorMaskerSimple
    assert autobahn.websocket.XorMaskerShifted1 is wsaccel.xormask.XorMaskerSimple


def test_patch_ws4py(monkeypatch: pytest.MonkeyPatch) -> None:
    # ws4py does not install on current Pythons: a stand-in with the names it patches.
    frame_class: Any = type("Frame", (), {"masking_key": b"abcd"})
    ws4py = types.ModuleType("ws4py")
    ws4py.framing = types.SimpleNamespace(Frame=frame_class)  # type: ignore[attr-defined]
    ws4py.streaming = types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ws4py", ws4py)
    wsaccel.patch_ws4py()
    assert ws4py.streaming.Utf8Validator is wsaccel.utf8validator.Utf8Validator  # type: ignore[attr-defined]
    frame = frame_class()
    assert frame.mask(b"\x00" * 5) == b"abcda" and frame.unmask(b"abcda") == b"\x00" * 5
    frame.masking_key = None
    assert frame.mask(b"xy") == b"xy"
