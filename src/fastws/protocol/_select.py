"""The one place that chooses the protocol's implementation: the connection module
compiled by Cython (``_connection_c``, over the Cython core) or the same source run
as Python (``_connection``, over the pure core), following the core's choice."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

import fastws

from . import _connection

__all__ = ["ClientConnection", "Connection", "ServerConnection", "load_implementation"]


def load_implementation(name: Any = None) -> ModuleType:
    """The protocol implementation's module, with its ``ClientConnection`` and
    ``ServerConnection``: for "cython" or "python" (or a core module from
    ``fastws.load_implementation``); None: the one that goes with the core in use."""
    if fastws.load_implementation(name) is fastws.load_implementation("python"):
        return _connection
    from . import _connection_c  # type: ignore[attr-defined]

    return _connection_c  # type: ignore[no-any-return]


def _selected() -> ModuleType:
    try:
        return load_implementation()
    except ImportError as error:  # a build with the core's extension but not this one
        warnings.warn(f"fastws.protocol: using the pure-Python protocol because {error}", RuntimeWarning, stacklevel=3)
        return _connection


if TYPE_CHECKING:
    from ._connection import ClientConnection, Connection, ServerConnection
else:
    _module = _selected()
    Connection = _module.Connection
    ClientConnection = _module.ClientConnection
    ServerConnection = _module.ServerConnection
