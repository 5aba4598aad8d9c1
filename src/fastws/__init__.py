"""fastws: a fast, strict WebSocket (RFC 6455) framing core.

The same API runs on a Cython extension over C kernels or on a pure-Python twin;
``fastws.implementation`` says which one this process uses.
"""

from __future__ import annotations

from typing import Any, List

from ._impl import (
    Frame,
    FrameHeader,
    FrameParser,
    Masker,
    Utf8Validator,
    apply_mask,
    apply_mask_into,
    encode_close,
    encode_frame,
    encode_frame_header,
    implementation,
    implementation_error,
    parse_close,
    parse_header,
    set_simd,
    simd_levels,
    validate_utf8,
)
from ._impl import get_simd as _get_simd
from ._impl import load as _load
from .codes import DEFAULT_MAX_FRAME_SIZE, CloseCode, Opcode
from .errors import InvalidUtf8, ProtocolError, WebSocketError

__version__ = "0.1.0"

__all__ = [
    "CloseCode",
    "DEFAULT_MAX_FRAME_SIZE",
    "Frame",
    "FrameHeader",
    "FrameParser",
    "InvalidUtf8",
    "Masker",
    "Opcode",
    "ProtocolError",
    "Utf8Validator",
    "WebSocketError",
    "apply_mask",
    "apply_mask_into",
    "encode_close",
    "encode_frame",
    "encode_frame_header",
    "implementation",
    "implementation_error",
    "load_implementation",
    "parse_close",
    "parse_header",
    "set_simd",
    "simd",
    "simd_levels",
    "validate_utf8",
]


def load_implementation(name: Any = None) -> Any:
    """The implementation module: "cython" or "python", or the one in use for None.

    A module returned here may be given back (tests and benchmarks that compare the
    two in one process pass it as ``implementation=`` to the protocol and asyncio
    layers)."""
    if name is None:
        return _load(implementation)
    if isinstance(name, str):
        return _load(name)
    if getattr(name, "FrameParser", None) is None:
        raise ValueError(f"not a fastws implementation: {name!r}")
    return name


def __getattr__(name: str) -> Any:
    # ``fastws.simd`` is computed on each access: set_simd() can change it.
    if name == "simd":
        return _get_simd()
    raise AttributeError(f"module 'fastws' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | {"simd"})
