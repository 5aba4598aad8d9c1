"""The pure-Python implementation: the specification that ``_speedups.pyx`` mirrors.

Every public name here exists in ``_speedups`` with the same signature, the same
results and the same exceptions (texts from ``_messages``). Nothing but ``_impl``
imports this module.
"""

from __future__ import annotations

import codecs
from operator import index as _as_index
from typing import TYPE_CHECKING, Any, ClassVar, List, Optional, Tuple, Union

from . import _messages as msg
from .codes import DEFAULT_MAX_FRAME_SIZE, OPCODE_TABLE, CloseCode, Opcode, close_code_or_int, is_sendable_close_code
from .errors import InvalidUtf8, ProtocolError

__all__ = [
    "Frame",
    "FrameHeader",
    "FrameParser",
    "Masker",
    "Utf8Validator",
    "apply_mask",
    "apply_mask_into",
    "encode_close",
    "encode_frame",
    "get_simd",
    "parse_close",
    "parse_header",
    "set_simd",
    "simd_levels",
    "validate_utf8",
]

_from_bytes = int.from_bytes
_SERVER, _CLIENT = "server", "client"


# -- SIMD levels: none here, Python has no kernels -----------------------------------

_NO_SIMD = "none"


def simd_levels() -> Tuple[str, ...]:
    """The kernel levels this implementation can run, lowest first."""
    return (_NO_SIMD,)


def get_simd() -> str:
    """The kernel level in use."""
    return _NO_SIMD


def set_simd(level: str) -> None:
    """Selects a kernel level from ``simd_levels()`` (tests use it to run every level)."""
    if level != _NO_SIMD:
        raise ValueError(msg.BAD_SIMD.format(level=level, levels=_NO_SIMD))


# -- input conversion -------------------------------------------------------------


def _contiguous(data: Any) -> Union[bytes, bytearray, memoryview]:
    """``data`` as a flat sequence of byte values: any buffer, copied only if it is
    not C-contiguous."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(msg.NOT_BYTES.format(type=type(data).__name__)) from None
    return view.cast("B") if view.c_contiguous else view.tobytes()


def _mask_key(mask: Any) -> bytes:
    key = bytes(_contiguous(mask))
    if len(key) != 4:
        raise ValueError(msg.MASK_LENGTH)
    return key


# -- masking (RFC 6455 §5.3) --------------------------------------------------------


def _xor(data: Any, key: bytes, length: int) -> bytes:
    # One big-integer XOR runs at C speed; the key is repeated to the data's length.
    repeated = (key * ((length >> 2) + 1))[:length]
    return (_from_bytes(data, "little") ^ _from_bytes(repeated, "little")).to_bytes(length, "little")


def apply_mask(data: Any, mask: Any) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 §5.3), as new bytes."""
    key = _mask_key(mask)
    data = _contiguous(data)
    length = len(data)
    return _xor(data, key, length) if length else b""


def apply_mask_into(buffer: Any, mask: Any) -> None:
    """Masks a writable, C-contiguous buffer in place (RFC 6455 §5.3)."""
    key = _mask_key(mask)
    try:
        view = memoryview(buffer)
    except TypeError:
        view = None
    if view is None or view.readonly or not view.c_contiguous:
        raise TypeError(msg.NOT_WRITABLE.format(type=type(buffer).__name__))
    view = view.cast("B")
    length = len(view)
    if length:
        view[:] = _xor(view, key, length)


class Masker:
    """Masks a payload that arrives in pieces: each ``process`` call continues the
    mask where the previous one stopped."""

    __slots__ = ("_key", "_phase")

    def __init__(self, mask: Any) -> None:
        self._key = _mask_key(mask)
        self._phase = 0

    def process(self, data: Any) -> bytes:
        data = _contiguous(data)
        length = len(data)
        if not length:
            return b""
        phase = self._phase
        key = self._key[phase:] + self._key[:phase]
        self._phase = (phase + length) & 3
        return _xor(data, key, length)

    def reset(self) -> None:
        """Starts the mask over, for the next payload."""
        self._phase = 0


# -- UTF-8 (RFC 3629) ---------------------------------------------------------------

_NewUtf8Decoder = codecs.getincrementaldecoder("utf-8")


def _reject_index(sequence: bytes) -> int:
    """Index of the byte at which ``sequence`` (starting at a character boundary)
    stops being a prefix of valid UTF-8, or -1 while it still is one."""
    lead = sequence[0]
    if lead < 0x80:
        return -1  # a whole ASCII character
    if lead < 0xC2:
        return 0  # continuation byte or overlong 2-byte lead
    if lead < 0xE0:
        needed, low, high = 1, 0x80, 0xBF
    elif lead < 0xF0:
        needed = 2
        low, high = (0xA0, 0xBF) if lead == 0xE0 else (0x80, 0x9F) if lead == 0xED else (0x80, 0xBF)
    elif lead < 0xF5:
        needed = 3
        low, high = (0x90, 0xBF) if lead == 0xF0 else (0x80, 0x8F) if lead == 0xF4 else (0x80, 0xBF)
    else:
        return 0
    for position in range(1, min(len(sequence), needed + 1)):
        if not low <= sequence[position] <= high:
            return position
        low, high = 0x80, 0xBF
    return -1


def _decode_error_position(error: UnicodeDecodeError) -> int:
    """Exact fail-fast offset in ``error.object`` of the byte that broke the text,
    or the object's length when it only ended inside a character."""
    found = _reject_index(error.object[error.start : error.start + 4])
    return error.start + found if found >= 0 else len(error.object)


def validate_utf8(data: Any) -> bool:
    """Whether ``data`` is one complete, strict UTF-8 text (RFC 3629)."""
    try:
        str(_contiguous(data), "utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Utf8Validator:
    """Validates a text that arrives in chunks, failing at the first byte that can
    no longer begin valid UTF-8 (RFC 6455 §8.1)."""

    __slots__ = ("_decoder", "_offset", "_error")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forgets everything fed, for the next text."""
        self._decoder = _NewUtf8Decoder()
        self._offset = 0
        self._error: Optional[int] = None

    @property
    def position(self) -> int:
        """Bytes fed so far (up to the error, once one is found)."""
        return self._offset if self._error is None else self._error

    def _fail(self, position: int) -> None:
        self._error = position
        raise InvalidUtf8(position)

    def feed(self, chunk: Any) -> None:
        """Raises ``InvalidUtf8`` as soon as the text fed so far cannot be valid."""
        if self._error is not None:
            raise InvalidUtf8(self._error)
        data = _contiguous(chunk)
        decoder = self._decoder
        start = self._offset - len(decoder.getstate()[0])  # offset of the held-back bytes
        try:
            decoder.decode(data, False)
        except UnicodeDecodeError as error:
            self._fail(start + _decode_error_position(error))
        self._offset += len(data)
        # The codec holds back an unfinished character without judging it (it
        # accepts b"\xed\xa0" there): judge it now, to fail fast.
        held = decoder.getstate()[0]
        if held:
            found = _reject_index(held)
            if found >= 0:
                self._fail(self._offset - len(held) + found)

    def finish(self) -> None:
        """Raises ``InvalidUtf8`` (position = bytes fed) if the text ends inside a character."""
        if self._error is not None:
            raise InvalidUtf8(self._error)
        if self._decoder.getstate()[0]:
            self._fail(self._offset)


# -- frames (RFC 6455 §5.2) ---------------------------------------------------------


class _Frozen:
    """Immutable record: slots are written once, through their descriptors."""

    __slots__ = ()
    _fields: ClassVar[Tuple[str, ...]] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


def _as_opcode(opcode: Any) -> Opcode:
    value = _as_index(opcode)
    member = OPCODE_TABLE[value] if 0 <= value < 16 else None
    if member is None:
        raise ValueError(msg.ENCODE_BAD_OPCODE.format(opcode=opcode))
    return member


class Frame(_Frozen):
    """One frame, payload unmasked."""

    __slots__ = _fields = ("opcode", "payload", "fin", "rsv1", "rsv2", "rsv3")
    if TYPE_CHECKING:
        opcode: Opcode
        payload: bytes
        fin: bool
        rsv1: bool
        rsv2: bool
        rsv3: bool

    def __init__(
        self, opcode: Any, payload: Any = b"", fin: bool = True, rsv1: bool = False, rsv2: bool = False, rsv3: bool = False
    ) -> None:
        _fill_frame(self, _as_opcode(opcode), bytes(_contiguous(payload)), bool(fin), bool(rsv1), bool(rsv2), bool(rsv3))


# The slots' own setters: the parser fills frames without going through __init__.
_set_opcode, _set_payload, _set_fin, _set_rsv1, _set_rsv2, _set_rsv3 = (Frame.__dict__[name].__set__ for name in Frame._fields)
_new_frame = object.__new__


def _fill_frame(frame: Frame, opcode: Opcode, payload: bytes, fin: bool, rsv1: bool, rsv2: bool, rsv3: bool) -> Frame:
    _set_opcode(frame, opcode)
    _set_payload(frame, payload)
    _set_fin(frame, fin)
    _set_rsv1(frame, rsv1)
    _set_rsv2(frame, rsv2)
    _set_rsv3(frame, rsv3)
    return frame


class FrameHeader(_Frozen):
    """A parsed frame header (RFC 6455 §5.2); ``mask`` is None when not masked."""

    __slots__ = _fields = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "mask", "payload_length", "header_length")
    if TYPE_CHECKING:
        fin: bool
        rsv1: bool
        rsv2: bool
        rsv3: bool
        opcode: Opcode
        masked: bool
        mask: Optional[bytes]
        payload_length: int
        header_length: int

    def __init__(
        self,
        *,
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        opcode: Opcode,
        masked: bool,
        mask: Optional[bytes],
        payload_length: int,
        header_length: int,
    ) -> None:
        values = (fin, rsv1, rsv2, rsv3, opcode, masked, mask, payload_length, header_length)
        for name, value in zip(self._fields, values):
            object.__setattr__(self, name, value)


def _check_first_bytes(first: int, second: int) -> Opcode:
    """The rules that two header bytes can break whatever the role (RFC 6455 §5.2, §5.5)."""
    opcode = OPCODE_TABLE[first & 0x0F]
    if opcode is None:
        raise ProtocolError(msg.RESERVED_OPCODE.format(opcode=first & 0x0F))
    if opcode >= 8:
        if not first & 0x80:
            raise ProtocolError(msg.CONTROL_FRAGMENTED)
        if second & 0x7F > 125:
            raise ProtocolError(msg.CONTROL_TOO_LONG)
    return opcode


def parse_header(data: Any, offset: int = 0) -> Optional[FrameHeader]:
    """Parses the frame header at ``data[offset:]``; None if more bytes are needed.

    Checks the rules that hold for every endpoint (reserved opcodes, control frames,
    the 64-bit length's top bit) and leaves masking and RSV bits, which depend on the
    role and the extensions, to the caller.
    """
    buf = _contiguous(data)
    size = len(buf)
    if not 0 <= offset <= size:
        raise ValueError(msg.BAD_OFFSET.format(offset=offset, length=size))
    if size - offset < 2:
        return None
    first, second = buf[offset], buf[offset + 1]
    opcode = _check_first_bytes(first, second)
    length = second & 0x7F
    header_length = 2
    if length == 126:
        header_length = 4
        if size - offset < 4:
            return None
        length = _from_bytes(buf[offset + 2 : offset + 4], "big")
    elif length == 127:
        header_length = 10
        if size - offset < 10:
            return None
        length = _from_bytes(buf[offset + 2 : offset + 10], "big")
        if length >> 63:
            raise ProtocolError(msg.LENGTH_MSB)
    mask = None
    if second & 0x80:
        if size - offset < header_length + 4:
            return None
        mask = bytes(buf[offset + header_length : offset + header_length + 4])
        header_length += 4
    return FrameHeader(
        fin=bool(first & 0x80),
        rsv1=bool(first & 0x40),
        rsv2=bool(first & 0x20),
        rsv3=bool(first & 0x10),
        opcode=opcode,
        masked=mask is not None,
        mask=mask,
        payload_length=length,
        header_length=header_length,
    )


def encode_frame(
    opcode: Any,
    payload: Any,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: Any = None,
) -> bytes:
    """One frame on the wire, with the shortest length encoding (RFC 6455 §5.2).

    ``mask`` is 4 bytes to mask the payload with (what clients send), or None.
    """
    code = _as_opcode(opcode)
    data = _contiguous(payload)
    length = len(data)
    if code >= 8 and (not fin or length > 125):
        raise ValueError(msg.ENCODE_CONTROL)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | code
    mask_bit = 0 if mask is None else 0x80
    if length < 126:
        header = bytes((first, mask_bit | length))
    elif length < 0x10000:
        header = bytes((first, mask_bit | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + length.to_bytes(8, "big")
    if mask is None:
        return header + data
    key = _mask_key(mask)
    return header + key + (_xor(data, key, length) if length else b"")


class FrameParser:
    """Turns the bytes one endpoint receives into frames (RFC 6455 §5).

    ``role`` is the receiving endpoint's: a "server" parses a client's frames, which
    must all be masked; a "client" parses a server's, which must not be.
    """

    __slots__ = ("_buffer", "_masked", "_max_frame_size", "_allow_rsv1", "_failed_code", "_pending_header_length")

    def __init__(self, role: str, *, max_frame_size: Optional[int] = DEFAULT_MAX_FRAME_SIZE, allow_rsv1: bool = False) -> None:
        if role != _SERVER and role != _CLIENT:
            raise ValueError(msg.BAD_ROLE.format(role=role))
        if max_frame_size is None:
            max_frame_size = (1 << 63) - 1
        elif type(max_frame_size) is not int or max_frame_size < 0:
            raise ValueError(msg.BAD_LIMIT)
        self._masked = role == _SERVER
        self._max_frame_size = max_frame_size
        self._allow_rsv1 = bool(allow_rsv1)
        self._buffer = bytearray()
        self._failed_code = 0
        # Header length of the frame at the buffer's start whose payload is still
        # arriving; 0 when there is none.
        self._pending_header_length = 0

    def feed(self, data: Any) -> List[Frame]:
        """Returns the frames that ``data`` completed; keeps an unfinished one's bytes."""
        if self._failed_code:
            raise ProtocolError(msg.AFTER_ERROR, self._failed_code)
        buf = self._buffer
        buf += data if type(data) is bytes else _contiguous(data)
        frames: List[Frame] = []
        size = len(buf)
        position = 0
        masked = self._masked
        self._pending_header_length = 0
        try:
            while size - position >= 2:
                first = buf[position]
                second = buf[position + 1]
                opcode = _check_first_bytes(first, second)
                if first & 0x70:
                    self._check_rsv(first)
                if bool(second & 0x80) != masked:
                    raise ProtocolError(msg.MASK_REQUIRED if masked else msg.MASK_FORBIDDEN)
                length = second & 0x7F
                start = position + 2
                if length >= 126:
                    if length == 126:
                        if size - start < 2:
                            break
                        length = (buf[start] << 8) | buf[start + 1]
                        start += 2
                    else:
                        if size - start < 8:
                            break
                        length = _from_bytes(buf[start : start + 8], "big")
                        if length >> 63:
                            raise ProtocolError(msg.LENGTH_MSB)
                        start += 8
                if length > self._max_frame_size:
                    raise ProtocolError(msg.FRAME_TOO_BIG.format(length=length, limit=self._max_frame_size), 1009)
                end = start + 4 + length if masked else start + length
                if end > size:
                    if start + 4 * masked <= size:
                        self._pending_header_length = start + 4 * masked - position
                    break
                if masked:
                    payload = _xor(buf[start + 4 : end], bytes(buf[start : start + 4]), length) if length else b""
                else:
                    payload = bytes(buf[start:end])
                frame = _new_frame(Frame)
                _fill_frame(frame, opcode, payload, first >= 0x80, bool(first & 0x40), bool(first & 0x20), bool(first & 0x10))
                frames.append(frame)
                position = end
        except ProtocolError as error:
            self._failed_code = error.close_code
            self._buffer = bytearray()
            self._pending_header_length = 0
            error.frames = frames
            raise
        del buf[:position]
        return frames

    @property
    def pending_header(self) -> Optional[FrameHeader]:
        """The header of the frame whose payload is still arriving, or None.

        With ``pending_payload`` it lets a protocol act on a frame before its end
        arrives, for example to reject invalid UTF-8 at once (RFC 6455 §8.1).
        """
        if not self._pending_header_length:
            return None
        return parse_header(self._buffer)

    def pending_payload(self, start: int = 0) -> Optional[bytes]:
        """The unmasked payload bytes of the pending frame received so far, from
        ``start`` on; None when no frame is pending."""
        header = self.pending_header
        if header is None:
            return None
        data = self._buffer[header.header_length :]
        if not 0 <= start <= len(data):
            raise ValueError(msg.BAD_OFFSET.format(offset=start, length=len(data)))
        data = data[start:]
        if header.mask is None or not data:
            return bytes(data)
        phase = start & 3
        return _xor(data, header.mask[phase:] + header.mask[:phase], len(data))

    def _check_rsv(self, first: int) -> None:
        if first & 0x40 and not self._allow_rsv1:
            raise ProtocolError(msg.RSV_SET.format(bit=1))
        if first & 0x20:
            raise ProtocolError(msg.RSV_SET.format(bit=2))
        if first & 0x10:
            raise ProtocolError(msg.RSV_SET.format(bit=3))


# -- close frames (RFC 6455 §5.5.1, §7.4) -------------------------------------------


def encode_close(code: int, reason: str = "") -> bytes:
    """The payload of a close frame: the status code, then the UTF-8 reason."""
    code = _as_index(code)
    if not is_sendable_close_code(code):
        raise ValueError(msg.CLOSE_BAD_CODE.format(code=code))
    data = reason.encode("utf-8")
    if len(data) > 123:
        raise ValueError(msg.CLOSE_REASON_TOO_LONG.format(length=len(data)))
    return code.to_bytes(2, "big") + data


def parse_close(payload: Any) -> Tuple[Union[CloseCode, int], str]:
    """``(code, reason)`` from a close frame's payload; (1005, "") when it is empty.

    Raises ``ProtocolError`` (1002) for a 1-byte payload, a code that must not be
    sent or a reason over 123 bytes, and ``InvalidUtf8`` (1007, ``position`` within
    the reason) for a reason that is not UTF-8.
    """
    data = _contiguous(payload)
    size = len(data)
    if size == 0:
        return CloseCode.NO_STATUS_RCVD, ""
    if size == 1:
        raise ProtocolError(msg.CLOSE_ONE_BYTE)
    code = (data[0] << 8) | data[1]
    if not is_sendable_close_code(code):
        raise ProtocolError(msg.CLOSE_BAD_CODE.format(code=code))
    if size > 125:
        raise ProtocolError(msg.CLOSE_REASON_TOO_LONG.format(length=size - 2))
    try:
        reason = str(data[2:], "utf-8")
    except UnicodeDecodeError as error:
        raise InvalidUtf8(_decode_error_position(error), msg.CLOSE_REASON_UTF8) from None
    return close_code_or_int(code), reason
