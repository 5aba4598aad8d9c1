"""autobahn on fastws: ``install()`` gives autobahn's WebSocket protocol fastws' masker
and UTF-8 validator, ``uninstall()`` puts autobahn's back.

autobahn's protocol calls ``create_xor_masker(mask, length)`` for every masked frame
(``pointer()``, ``reset()``, ``process(data)``) and ``Utf8Validator().validate(payload)``
for text, reading the result at ``[0]``, ``[1]`` and ``[3]``. wsaccel's API, which
``fastws.compat.wsaccel`` reproduces, is the same, so the adapter installs those
classes in ``autobahn.websocket.xormasker``, ``.utf8validator`` and ``.protocol`` (which
binds both names at import time).
"""

from __future__ import annotations

from typing import Any

from ._patch import Patches
from .wsaccel.utf8validator import Utf8Validator
from .wsaccel.xormask import XorMaskerSimple

__all__ = ["Utf8Validator", "XorMaskerSimple", "create_xor_masker", "install", "installed", "uninstall"]

_patches = Patches()


def create_xor_masker(mask: Any, length: Any = None) -> XorMaskerSimple:
    """autobahn's masker factory: one masker serves every length."""
    return XorMaskerSimple(mask)


def install() -> bool:
    """Accelerates autobahn's WebSocket protocol; False if it already was."""
    if _patches:
        return False
    from autobahn.websocket import protocol, utf8validator, xormasker

    for owner in (xormasker, protocol):
        _patches.set(owner, "create_xor_masker", create_xor_masker)
    for owner in (utf8validator, protocol):
        _patches.set(owner, "Utf8Validator", Utf8Validator)
    return True


def uninstall() -> bool:
    """Puts autobahn's own masker and validator back; False if they were in place."""
    return _patches.undo()


def installed() -> bool:
    """Whether autobahn's protocol runs on fastws."""
    return bool(_patches)
