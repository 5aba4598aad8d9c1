"""wsaccel.utf8validator on fastws: the incremental validator with wsaccel's exact state.

wsaccel runs Hoehrmann's byte-at-a-time DFA; its observable state is the DFA state
(``UTF8_ACCEPT`` = 0, ``UTF8_REJECT`` = 1, 2 to 8 inside a character), the running
byte count ``i`` and, for ``decode()``, the ``codepoint``. Here fastws checks each
chunk at SIMD speed, and the DFA runs only over the few bytes that finish a character
left open by the previous chunk or that open one at the end of this chunk.

Theory of operation of the DFA (the states are wsaccel's numbers)::

    state  expects next                                     then
    0      any character start (ASCII: stays 0)
    2      80..BF                                           0
    3      80..BF                                           2
    4      A0..BF  (after E0: no overlong 3-byte form)      2
    5      80..9F  (after ED: no surrogates)                2
    6      90..BF  (after F0: no overlong 4-byte form)      3
    7      80..BF  (after F1..F3)                           3
    8      80..8F  (after F4: nothing above U+10FFFF)       3
    1      nothing: a rejected text stays rejected
"""

from __future__ import annotations

from operator import index as _index
from typing import Any, Tuple

import fastws
from fastws import InvalidUtf8

from ._args import byte_view, c_int, wrap_c_int

__all__ = ["UTF8_ACCEPT", "UTF8_REJECT", "Utf8Validator"]

# The fastws API that the adapter calls: tests swap in either implementation.
_fastws: Any = fastws

UTF8_ACCEPT = 0
UTF8_REJECT = 1
_STATES = 9


def _table(ranges: Tuple[Tuple[int, int, int], ...], size: int, default: int) -> bytes:
    table = bytearray([default]) * size
    for first, last, value in ranges:
        table[first : last + 1] = bytes([value]) * (last - first + 1)
    return bytes(table)


# Byte classes: the bytes that every state treats alike. Continuation bytes split
# in three (80..8F, 90..9F, A0..BF) because states 4, 5, 6 and 8 narrow the range.
_CONT_80, _CONT_90, _CONT_A0 = 1, 9, 7
_CLASS = _table(
    (
        (0x80, 0x8F, _CONT_80),
        (0x90, 0x9F, _CONT_90),
        (0xA0, 0xBF, _CONT_A0),
        (0xC0, 0xC1, 8),  # overlong 2-byte leads
        (0xC2, 0xDF, 2),
        (0xE0, 0xE0, 10),
        (0xE1, 0xEC, 3),
        (0xED, 0xED, 4),
        (0xEE, 0xEF, 3),
        (0xF0, 0xF0, 11),
        (0xF1, 0xF3, 6),
        (0xF4, 0xF4, 5),
        (0xF5, 0xFF, 8),  # beyond U+10FFFF
    ),
    256,
    0,
)

# _NEXT[state * 16 + class]: the state after a byte of that class.
_ALL_CONT = (_CONT_80, _CONT_90, _CONT_A0)
_NEXT = bytearray([UTF8_REJECT]) * (_STATES * 16)
for _class, _state in ((0, 0), (2, 2), (3, 3), (10, 4), (4, 5), (11, 6), (6, 7), (5, 8)):
    _NEXT[_class] = _state
for _state, _classes, _then in (
    (2, _ALL_CONT, 0),
    (3, _ALL_CONT, 2),
    (4, (_CONT_A0,), 2),
    (5, (_CONT_80, _CONT_90), 2),
    (6, (_CONT_90, _CONT_A0), 3),
    (7, _ALL_CONT, 3),
    (8, (_CONT_80,), 3),
):
    for _class in _classes:
        _NEXT[_state * 16 + _class] = _then
_NEXT = bytes(_NEXT)  # type: ignore[assignment]
del _class, _state, _classes, _then


def _open_tail(data: Any, length: int) -> int:
    """Where ``data`` ends with the start of a character that it does not finish,
    or ``length`` when it does not (judging only the last character's lead byte)."""
    position = length - 1
    stop = max(length - 4, -1)
    while position > stop:
        byte = data[position]
        if byte & 0xC0 != 0x80:
            needed = 2 if 0xC2 <= byte <= 0xDF else 3 if 0xE0 <= byte <= 0xEF else 4 if 0xF0 <= byte <= 0xF4 else 1
            return position if length - position < needed else length
        position -= 1
    return length


def _check_state(state: int) -> None:
    if not 0 <= state < _STATES:
        # wsaccel would index outside its table: undefined there, an error here.
        raise ValueError(f"Utf8Validator.state must be a state of the DFA (0 to 8), not {state}")


def _c_int_property(slot: str, doc: str) -> property:
    """A ``cdef public int`` attribute: C int conversion on set, no deletion."""
    stored = getattr(Utf8Validator, slot)

    def set_(self: Utf8Validator, value: Any) -> None:
        stored.__set__(self, c_int(value))

    def delete(self: Utf8Validator) -> None:
        raise NotImplementedError("__del__")

    return property(stored.__get__, set_, delete, doc)


class Utf8Validator:
    """Incremental UTF-8 validator with wsaccel's API and state (RFC 3629, RFC 6455 §8.1).

    ``validate(buf)`` returns ``(valid, ends_on_codepoint, current_index,
    total_index)``: on a rejecting byte, ``valid`` is False and the indexes point at
    that byte within ``buf`` and within everything validated since ``reset()``; the
    rejection is sticky until ``reset()``.
    """

    __slots__ = ("_i", "_state", "_codepoint")

    UTF8_ACCEPT = UTF8_ACCEPT
    UTF8_REJECT = UTF8_REJECT

    def __init__(self) -> None:
        self._i = 0
        self._state = UTF8_ACCEPT
        self._codepoint = 0

    def reset(self) -> None:
        """Starts a new text."""
        self._i = 0
        self._state = UTF8_ACCEPT
        self._codepoint = 0

    def decode(self, b: Any) -> int:
        """Eats one byte and returns the new state; ``codepoint`` holds the character
        once the state is ``UTF8_ACCEPT`` again."""
        byte = _index(b)
        if not 0 <= byte <= 0xFF:
            # wsaccel would index outside its table: undefined there, an error here.
            raise ValueError(f"decode() takes one byte (0 to 255), not {byte}")
        state = self._state
        _check_state(state)
        byte_class = _CLASS[byte]
        if state != UTF8_ACCEPT:
            self._codepoint = wrap_c_int((byte & 0x3F) | (self._codepoint << 6))
        else:
            self._codepoint = (0xFF >> byte_class) & byte
        self._state = state = _NEXT[state * 16 + byte_class]
        return state

    def validate(self, buf: Any) -> Tuple[bool, bool, int, int]:
        """Validates the next chunk; see the class docstring for the result."""
        if buf is None:  # wsaccel's loop over the buffer fails so
            raise TypeError("'NoneType' is not iterable")
        data = byte_view(buf)
        length = len(data)
        if self._state == UTF8_ACCEPT and _fastws.validate_utf8(data):
            total = self._i + length
            if total > 0x7FFFFFFF:
                total = wrap_c_int(total)
                length = wrap_c_int(length)
            self._i = total
            return True, True, length, total
        return self._validate_slowly(data, length)

    def _validate_slowly(self, data: Any, length: int) -> Tuple[bool, bool, int, int]:
        state = self._state
        _check_state(state)
        position = 0
        # Finish the character that the previous chunk left open (or stay rejected).
        while position < length and state != UTF8_ACCEPT:
            state = _NEXT[state * 16 + _CLASS[data[position]]]
            if state == UTF8_REJECT:
                return self._reject(position)
            position += 1
        if position < length:
            rest = data if position == 0 else memoryview(data)[position:]
            size = length - position
            tail = _open_tail(rest, size)
            head = rest if tail == size else memoryview(rest)[:tail]
            if not _fastws.validate_utf8(head):
                try:
                    _fastws.Utf8Validator().feed(head)
                except InvalidUtf8 as error:
                    return self._reject(position + error.position)
                # The head ends inside a character that the lead byte at the tail breaks.
                return self._reject(position + tail)
            for offset in range(tail, size):
                state = _NEXT[state * 16 + _CLASS[rest[offset]]]
                if state == UTF8_REJECT:
                    return self._reject(position + offset)
        self._state = state
        self._i = total = wrap_c_int(self._i + length)
        return True, state == UTF8_ACCEPT, wrap_c_int(length), total

    def _reject(self, index: int) -> Tuple[bool, bool, int, int]:
        self._state = UTF8_REJECT
        self._i = total = wrap_c_int(self._i + index)
        return False, False, index, total


Utf8Validator.i = _c_int_property("_i", "Bytes validated since reset(), up to a rejecting byte.")  # type: ignore[attr-defined]
Utf8Validator.state = _c_int_property("_state", "The DFA state: UTF8_ACCEPT, UTF8_REJECT or inside a character.")  # type: ignore[attr-defined]
Utf8Validator.codepoint = _c_int_property("_codepoint", "The character that decode() completed.")  # type: ignore[attr-defined]
