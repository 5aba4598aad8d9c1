"""A drop-in replacement for wsaccel (0.6.x), the abandoned accelerator of
websocket-client, ws4py and older autobahn, on fastws' kernels.

``fastws.compat.wsaccel.xormask`` and ``.utf8validator`` have wsaccel's classes with
its semantics. ``install()`` (``fastws.compat.install_wsaccel()``) makes
``import wsaccel...`` resolve to them, for programs that cannot change their imports:
call it before the library that looks for wsaccel is imported (websocket-client
looks when ``websocket`` is first imported).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Dict, Optional

from . import utf8validator, xormask

__all__ = ["install", "installed", "patch_autobahn", "patch_ws4py", "uninstall", "utf8validator", "xormask"]

#: The wsaccel version whose API this module reproduces.
__version__ = "0.6.6"

_SELF = sys.modules[__name__]
_MODULES = {"wsaccel": _SELF, "wsaccel.xormask": xormask, "wsaccel.utf8validator": utf8validator}
_saved: Optional[Dict[str, Optional[ModuleType]]] = None


def install() -> bool:
    """Makes ``import wsaccel``, ``wsaccel.xormask`` and ``wsaccel.utf8validator``
    resolve to this package; False if that was already so."""
    global _saved
    if _saved is not None:
        return False
    _saved = {name: sys.modules.get(name) for name in _MODULES}
    sys.modules.update(_MODULES)
    return True


def uninstall() -> bool:
    """Puts back whatever ``wsaccel`` modules were imported before (if any)."""
    global _saved
    if _saved is None:
        return False
    for name, module in _saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    _saved = None
    return True


def installed() -> bool:
    """Whether ``import wsaccel`` resolves to fastws."""
    return _saved is not None and sys.modules.get("wsaccel") is _SELF


def patch_autobahn() -> None:
    """wsaccel's helper for autobahn releases before 0.8 (later ones ignore these names;
    use ``fastws.compat.autobahn.install()``)."""
    import autobahn.websocket

    websocket: Any = autobahn.websocket
    websocket.Utf8Validator = utf8validator.Utf8Validator
    websocket.XorMaskerNull = xormask.XorMaskerNull
    websocket.XorMaskerSimple = xormask.XorMaskerSimple
    websocket.XorMaskerShifted1 = xormask.XorMaskerSimple


def patch_ws4py() -> None:
    """wsaccel's helper for ws4py: its UTF-8 validator and frame masking."""
    from ws4py import framing, streaming

    streaming.Utf8Validator = utf8validator.Utf8Validator

    def mask(self: Any, data: Any) -> Any:
        if self.masking_key:
            return xormask.XorMaskerSimple(self.masking_key).process(data)
        return data

    framing.Frame.mask = mask
    framing.Frame.unmask = mask
