"""websockets on fastws: ``install()`` makes websockets mask with ``fastws.apply_mask``.

``websockets.frames`` and ``websockets.legacy.framing`` bind ``apply_mask`` when they
are imported (from ``websockets.speedups``, or ``websockets.utils`` without the C
extension). ``install()`` rebinds it in the modules already imported and in the one
they import it from, so that ``websockets.legacy.framing``, imported later, binds
fastws' too. fastws' ``apply_mask`` has websockets' signature and errors
(``ValueError("mask must contain 4 bytes")``, ``TypeError`` for non-buffers).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import fastws

from ._patch import Patches

__all__ = ["install", "installed", "uninstall"]

# The fastws API that the adapter calls: tests swap in either implementation.
_fastws: Any = fastws

_patches = Patches()
_bound: Any = None  # the installed apply_mask, and where websockets imports it from
_source: Any = None


def install() -> bool:
    """Accelerates websockets; False if it already was."""
    global _bound, _source
    if _patches:
        return False
    import websockets.frames

    try:
        source: Any = importlib.import_module("websockets.speedups")
    except ImportError:
        source = importlib.import_module("websockets.utils")
    _bound, _source = _fastws.apply_mask, source
    for owner in (source, websockets.frames, sys.modules.get("websockets.legacy.framing")):
        if owner is not None:
            _patches.set(owner, "apply_mask", _bound)
    return True


def uninstall() -> bool:
    """Puts websockets' own ``apply_mask`` back; False if the adapter was not installed."""
    if not _patches.undo():
        return False
    # websockets.legacy.framing imported while installed bound fastws' itself.
    framing = sys.modules.get("websockets.legacy.framing")
    if framing is not None and getattr(framing, "apply_mask") is _bound:
        setattr(framing, "apply_mask", _source.apply_mask)
    return True


def installed() -> bool:
    """Whether websockets masks with fastws."""
    return bool(_patches)
