"""Naive reference implementations that the tests compare both implementations with.

Written straight from the RFCs, byte by byte, sharing no code with fastws.
"""

from __future__ import annotations

import struct
from typing import Optional


def mask(data: bytes, key: bytes, phase: int = 0) -> bytes:
    """RFC 6455 §5.3: j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j."""
    return bytes(byte ^ key[(phase + i) % 4] for i, byte in enumerate(data))


def _continuation_ranges(lead: int) -> Optional[list]:
    """RFC 3629 §4: the allowed range of each byte after ``lead``; None if ``lead`` cannot start a character."""
    tail = (0x80, 0xBF)
    if lead <= 0x7F:
        return []
    if 0xC2 <= lead <= 0xDF:
        return [tail]
    if lead == 0xE0:
        return [(0xA0, 0xBF), tail]
    if 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF:
        return [tail, tail]
    if lead == 0xED:
        return [(0x80, 0x9F), tail]
    if lead == 0xF0:
        return [(0x90, 0xBF), tail, tail]
    if 0xF1 <= lead <= 0xF3:
        return [tail, tail, tail]
    if lead == 0xF4:
        return [(0x80, 0x8F), tail, tail]
    return None


def utf8_error(data: bytes, final: bool = True) -> Optional[int]:
    """Offset of the first byte at which ``data`` stops being (a prefix of) valid
    UTF-8; ``len(data)`` if ``final`` and it ends inside a character; else None."""
    i = 0
    while i < len(data):
        ranges = _continuation_ranges(data[i])
        if ranges is None:
            return i
        for k, (low, high) in enumerate(ranges, start=1):
            if i + k >= len(data):
                return len(data) if final else None
            if not low <= data[i + k] <= high:
                return i + k
        i += 1 + len(ranges)
    return None


def frame(
    opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, key: Optional[bytes] = None, length_bytes: Optional[int] = None
) -> bytes:
    """A frame built field by field (RFC 6455 §5.2). ``length_bytes`` (0, 2 or 8)
    forces a length encoding, even a non-minimal one."""
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if key is not None else 0
    if length_bytes == 0:
        head = struct.pack("!BB", first, mask_bit | n)
    elif length_bytes == 2:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if key is None:
        return head + payload
    return head + key + mask(payload, key)
