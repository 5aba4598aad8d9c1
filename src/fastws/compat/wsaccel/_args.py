"""How wsaccel's Cython signatures convert their arguments, reproduced in Python.

wsaccel declares its buffers ``const unsigned char[:]`` and its attributes ``cdef
public int``: these helpers accept and refuse the same objects with the same
exceptions, so code that relies on wsaccel's errors sees no difference.
"""

from __future__ import annotations

from operator import index as _index
from typing import Any, Union

__all__ = ["byte_view", "c_int", "wrap_c_int"]

# Formats that Cython accepts for ``unsigned char`` (byte order prefixes aside).
_BYTE_FORMATS = frozenset("Bc?")
_BYTE_ORDER = "@=<>!"
_C_TYPE_NAMES = {
    "b": "signed char",
    "h": "short",
    "H": "unsigned short",
    "i": "int",
    "I": "unsigned int",
    "l": "long",
    "L": "unsigned long",
    "q": "long long",
    "Q": "unsigned long long",
    "n": "Py_ssize_t",
    "N": "size_t",
    "f": "float",
    "d": "double",
}
_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1


def byte_view(data: Any) -> Union[bytes, bytearray, memoryview]:
    """``data`` as a ``const unsigned char[:]`` argument: a one-dimensional buffer of
    bytes (None counts as empty, as in Cython), as a flat byte sequence."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    if data is None:
        return b""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") from None
    code = view.format.lstrip(_BYTE_ORDER)
    if code not in _BYTE_FORMATS:
        name = _C_TYPE_NAMES.get(code)
        if name is None:
            raise ValueError(f"Does not understand character buffer dtype format string ('{code}')")
        raise ValueError(f"Buffer dtype mismatch, expected 'const unsigned char' but got '{name}'")
    if view.ndim != 1:
        raise ValueError(f"Buffer has wrong number of dimensions (expected 1, got {view.ndim})")
    return view if code == "B" else view.cast("B") if view.c_contiguous else memoryview(view.tobytes())


def c_int(value: Any) -> int:
    """``value`` stored in a ``cdef public int``: any integer, or anything with
    ``__int__`` (floats truncate), within a C int."""
    if type(value) is not int:
        try:
            value = _index(value)
        except TypeError:
            if not hasattr(type(value), "__int__"):
                raise TypeError("an integer is required") from None
            value = int(value)
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError("value too large to convert to int")
    return int(value)


def wrap_c_int(value: int) -> int:
    """``value`` wrapped to a C int, as wsaccel's additions overflow (two's complement)."""
    return ((value - _INT_MIN) & 0xFFFFFFFF) + _INT_MIN
