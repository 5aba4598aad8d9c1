"""wsaccel.xormask on fastws: the same classes and function, masking with fastws' kernels.

``XorMaskerSimple(mask)`` takes a 4-byte mask (else ``ValueError("mask should be
4byte.")``); ``process(data)`` returns new bytes and continues the mask where the
previous call stopped; ``pointer()`` counts the bytes processed; ``reset()`` starts over.
"""

from __future__ import annotations

from typing import Any

import fastws

from ._args import byte_view

__all__ = ["XorMaskerNull", "XorMaskerSimple", "createXorMasker"]

# The fastws API that the adapter calls: tests swap in either implementation.
_fastws: Any = fastws


class XorMaskerNull:
    """A masker for unmasked frames: returns its input, only counting its length."""

    __slots__ = ("_ptr",)

    def __init__(self, mask: Any = None) -> None:
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> Any:
        self._ptr += len(data)
        return data


class XorMaskerSimple:
    """Masks a payload that arrives in pieces with a 4-byte key (RFC 6455 §5.3)."""

    __slots__ = ("_masker", "_ptr")

    def __init__(self, mask: Any) -> None:
        key = byte_view(mask)
        if len(key) != 4:
            raise ValueError("mask should be 4byte.")
        self._masker = _fastws.Masker(key)
        self._ptr = 0

    def pointer(self) -> int:
        """How many bytes were processed since the start or the last ``reset()``."""
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0
        self._masker.reset()

    def process(self, data: Any) -> bytes:
        """``data`` masked, as new bytes, continuing the key where the last call stopped."""
        data = byte_view(data)
        self._ptr += len(data)
        return self._masker.process(data)  # type: ignore[no-any-return]


def createXorMasker(mask: Any, len: Any = None) -> XorMaskerSimple:  # noqa: A002 (wsaccel's name)
    """A masker for ``mask``; like wsaccel, the length hint does not matter."""
    return XorMaskerSimple(mask)
