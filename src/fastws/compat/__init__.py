"""Drop-in acceleration of the WebSocket libraries people already use.

```python
import fastws.compat
fastws.compat.install()      # every importable target; or install("wsproto", ...)
fastws.compat.status()       # what runs on fastws
```

Targets: ``wsproto``, ``websockets``, ``autobahn`` (their adapters patch the names each
library looks up) and ``wsaccel`` (``import wsaccel`` resolves to
``fastws.compat.wsaccel``: websocket-client and ws4py use it when it is there; install
it before importing them). Each adapter also has its own ``install()``,
``uninstall()`` and ``installed()`` in ``fastws.compat.<name>``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Dict, Tuple

import fastws

from .wsaccel import install as install_wsaccel
from .wsaccel import uninstall as uninstall_wsaccel

__all__ = ["TARGETS", "install", "install_wsaccel", "status", "uninstall", "uninstall_wsaccel"]

#: The libraries that fastws.compat accelerates.
TARGETS: Tuple[str, ...] = ("wsaccel", "wsproto", "websockets", "autobahn")

# The installed libraries whose presence makes a target worth installing: wsaccel is
# only useful to the libraries that import it.
_WANTED_IF = {
    "wsaccel": ("wsaccel", "websocket", "ws4py"),
    "wsproto": ("wsproto",),
    "websockets": ("websockets",),
    "autobahn": ("autobahn",),
}


def _adapter(name: str):  # type: ignore[no-untyped-def]
    if name not in TARGETS:
        raise ValueError(f"no fastws adapter for {name!r}; choose from {', '.join(TARGETS)}")
    return importlib.import_module(f"{__name__}.{name}")


def _importable(name: str) -> bool:
    return any(importlib.util.find_spec(module) is not None for module in _WANTED_IF[name])


def install(*names: str) -> Dict[str, str]:
    """Installs the adapters for ``names`` (default: every target whose library is
    importable) and reports, per target, "installed", "already installed",
    "not importable" (default run only) or "failed: <error>" (an explicit name whose
    library cannot be imported raises instead)."""
    report: Dict[str, str] = {}
    for name in names or TARGETS:
        adapter = _adapter(name)
        if not names and not _importable(name):
            report[name] = "not importable"
            continue
        try:
            done = adapter.install()
        except ImportError as error:
            if names:
                raise
            report[name] = f"failed: {error}"
            continue
        report[name] = "installed" if done else "already installed"
    return report


def uninstall(*names: str) -> Dict[str, str]:
    """Removes the adapters for ``names`` (default: all); reports "uninstalled" or
    "not installed" per target."""
    return {name: "uninstalled" if _adapter(name).uninstall() else "not installed" for name in names or TARGETS}


def status() -> Dict[str, str]:
    """What runs on fastws: the fastws implementation in use, then per target
    "fastws" (accelerated; "fastws (what is replaced)" for websockets), "own code" (importable, not accelerated) or "not importable"."""
    report = {"fastws": f"{fastws.__version__} {fastws.implementation} ({fastws.simd})"}
    for name in TARGETS:
        adapter = _adapter(name)
        if adapter.installed():
            # An adapter that replaces several things says which.
            report[name] = adapter.status() if hasattr(adapter, "status") else "fastws"
        else:
            report[name] = "own code" if _importable(name) else "not importable"
    return report
