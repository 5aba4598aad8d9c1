"""The pure-Python implementation: the specification that ``_speedups.pyx`` mirrors.

Every public name here exists in ``_speedups`` with the same signature, the same
results and the same exceptions (texts from ``_messages``). Nothing but ``_impl``
imports this module.
"""

from __future__ import annotations

import codecs
import functools
import threading
from operator import index as _as_index
from typing import TYPE_CHECKING, Any, Callable, ClassVar, List, Optional, Tuple, TypeVar, Union, cast

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
    "encode_frame_header",
    "get_simd",
    "parse_close",
    "parse_header",
    "set_simd",
    "simd_levels",
    "validate_utf8",
]

_from_bytes = int.from_bytes
_SERVER, _CLIENT = "server", "client"


# -- one thread at a time per object --------------------------------------------------

_Method = TypeVar("_Method", bound=Callable[..., Any])


class _OneThreadAtATime:
    """The extension's per-object guard: while one thread runs a method of a parser,
    validator or masker, another thread calling into it gets ``RuntimeError`` at once."""

    __slots__ = ("_guard",)
    _guard: threading.Lock

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        self._guard = threading.Lock()
        return self


def _exclusive(method: _Method) -> _Method:
    message = msg.IN_USE.format(name=method.__qualname__.split(".")[0])

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._guard.acquire(False):
            raise RuntimeError(message)
        try:
            return method(self, *args, **kwargs)
        finally:
            self._guard.release()

    return cast(_Method, guarded)


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


# XOR by a constant byte, as a bytes.translate table: one per possible key byte.
_XOR_TABLES = [bytes(value ^ key for value in range(256)) for key in range(256)]
_TRANSLATE_FROM = 512  # bytes; below it the big-integer XOR has less overhead


def _xor(data: Any, key: bytes, length: int) -> bytes:
    if length < _TRANSLATE_FROM:
        # One big-integer XOR at C speed, the key repeated to the data's length.
        repeated = (key * ((length >> 2) + 1))[:length]
        return (_from_bytes(data, "little") ^ _from_bytes(repeated, "little")).to_bytes(length, "little")
    # Every 4th byte shares a key byte: translate the four strided slices.
    out = bytearray(data)
    for phase in range(4):
        out[phase::4] = out[phase::4].translate(_XOR_TABLES[key[phase]])
    return bytes(out)


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


class Masker(_OneThreadAtATime):
    """Masks a payload that arrives in pieces: each ``process`` call continues the
    mask where the previous one stopped."""

    __slots__ = ("_key", "_phase")

    def __init__(self, mask: Any) -> None:
        self._start(_mask_key(mask))

    @_exclusive
    def _start(self, key: bytes) -> None:
        self._key = key
        self._phase = 0

    @_exclusive
    def process(self, data: Any) -> bytes:
        data = _contiguous(data)
        length = len(data)
        if not length:
            return b""
        phase = self._phase
        key = self._key[phase:] + self._key[:phase]
        self._phase = (phase + length) & 3
        return _xor(data, key, length)

    @_exclusive
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


class Utf8Validator(_OneThreadAtATime):
    """Validates a text that arrives in chunks, failing at the first byte that can
    no longer begin valid UTF-8 (RFC 6455 §8.1)."""

    __slots__ = ("_decoder", "_offset", "_held", "_error")

    def __init__(self) -> None:
        self.reset()

    @_exclusive
    def reset(self) -> None:
        """Forgets everything fed, for the next text."""
        self._decoder = _NewUtf8Decoder()
        self._offset = 0
        self._held = 0  # bytes of an unfinished character the codec holds back
        self._error: Optional[int] = None

    @property
    @_exclusive
    def position(self) -> int:
        """Bytes fed so far (up to the error, once one is found)."""
        return self._offset if self._error is None else self._error

    def _fail(self, position: int) -> None:
        self._error = position
        raise InvalidUtf8(position)

    @_exclusive
    def feed(self, chunk: Any) -> None:
        """Raises ``InvalidUtf8`` as soon as the text fed so far cannot be valid."""
        if self._error is not None:
            raise InvalidUtf8(self._error)
        data = _contiguous(chunk)
        decoder = self._decoder
        start = self._offset - self._held  # offset of the held-back bytes
        try:
            decoder.decode(data, False)
        except UnicodeDecodeError as error:
            self._fail(start + _decode_error_position(error))
        self._offset += len(data)
        if not data:
            return
        if data[-1] < 0x80:  # ends on a whole character: nothing held back
            self._held = 0
            return
        # The codec holds back an unfinished character without judging it (it
        # accepts b"\xed\xa0" there): judge it now, to fail fast.
        held = decoder.getstate()[0]
        self._held = len(held)
        if held:
            found = _reject_index(held)
            if found >= 0:
                self._fail(self._offset - len(held) + found)

    @_exclusive
    def finish(self) -> None:
        """Raises ``InvalidUtf8`` (position = bytes fed) if the text ends inside a character."""
        if self._error is not None:
            raise InvalidUtf8(self._error)
        if self._held:
            self._fail(self._offset)


# -- frames (RFC 6455 §5.2) ---------------------------------------------------------


class _Record:
    """Immutable record. Its fields live in one tuple, written once: the parser makes
    a frame with a single slot write, the cheapest way pure Python has."""

    __slots__ = ("_record",)
    _fields: ClassVar[Tuple[str, ...]] = ()
    if TYPE_CHECKING:
        _record: Tuple[Any, ...]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def _values(self) -> Tuple[Any, ...]:
        return self._record

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, _Record):  # isinstance: for mypy
            return NotImplemented
        return self._record == other._record

    def __hash__(self) -> int:
        return hash(self._record)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self._record))
        return f"{type(self).__name__}({fields})"


_new_record = object.__new__
_set_record = _Record.__dict__["_record"].__set__


def _field(index: int, doc: str) -> Any:
    return property(lambda self: self._record[index], doc=doc)


def _as_opcode(opcode: Any) -> Opcode:
    value = _as_index(opcode)
    member = OPCODE_TABLE[value] if 0 <= value < 16 else None
    if member is None:
        raise ValueError(msg.ENCODE_BAD_OPCODE.format(opcode=opcode))
    return member


class Frame(_Record):
    """One frame, payload unmasked."""

    __slots__ = ()
    _fields = ("opcode", "payload", "fin", "rsv1", "rsv2", "rsv3")
    if TYPE_CHECKING:
        opcode: Opcode
        payload: bytes
        fin: bool
        rsv1: bool
        rsv2: bool
        rsv3: bool
    else:
        opcode = _field(0, "the Opcode")
        payload = _field(1, "the payload, unmasked")
        fin = _field(2, "whether this is the message's last frame")
        rsv1 = _field(3, "the RSV1 bit (permessage-deflate: compressed)")
        rsv2 = _field(4, "the RSV2 bit")
        rsv3 = _field(5, "the RSV3 bit")

    def __init__(
        self, opcode: Any, payload: Any = b"", fin: bool = True, rsv1: bool = False, rsv2: bool = False, rsv3: bool = False
    ) -> None:
        record = (_as_opcode(opcode), bytes(_contiguous(payload)), bool(fin), bool(rsv1), bool(rsv2), bool(rsv3))
        _set_record(self, record)


class FrameHeader(_Record):
    """A parsed frame header (RFC 6455 §5.2); ``mask`` is None when not masked."""

    __slots__ = ()
    _fields = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "mask", "payload_length", "header_length")
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
    else:
        fin = _field(0, "the FIN bit")
        rsv1 = _field(1, "the RSV1 bit")
        rsv2 = _field(2, "the RSV2 bit")
        rsv3 = _field(3, "the RSV3 bit")
        opcode = _field(4, "the Opcode")
        masked = _field(5, "whether the payload is masked")
        mask = _field(6, "the 4-byte masking key, or None")
        payload_length = _field(7, "the payload's length in bytes")
        header_length = _field(8, "the header's length in bytes, masking key included")

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
        _set_record(self, (fin, rsv1, rsv2, rsv3, opcode, masked, mask, payload_length, header_length))


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


def _first_byte_table(allow_rsv1: bool) -> Tuple[Optional[Opcode], ...]:
    """Per first header byte, its Opcode when the byte breaks no rule a first byte can
    break (reserved opcode, fragmented control frame, RSV bits), else None."""
    table: List[Optional[Opcode]] = []
    for first in range(256):
        opcode = OPCODE_TABLE[first & 0x0F]
        rsv_ok = not first & 0x30 and (allow_rsv1 or not first & 0x40)
        fin_ok = first & 0x80 or not first & 0x08
        table.append(opcode if rsv_ok and fin_ok else None)
    return tuple(table)


_FIRST_BYTES = {allow_rsv1: _first_byte_table(allow_rsv1) for allow_rsv1 in (False, True)}


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
    header = _new_record(FrameHeader)
    _set_record(
        header,
        (first & 0x80 != 0, first & 0x40 != 0, first & 0x20 != 0, first & 0x10 != 0, opcode, mask is not None, mask, length, header_length),
    )
    return header


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
    header = _frame_header(code, len(data), fin, rsv1, rsv2, rsv3, mask)
    if mask is None:
        return header + data
    return header + (_xor(data, header[-4:], len(data)) if data else b"")


def encode_frame_header(
    opcode: Any,
    payload_length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: Any = None,
) -> bytes:
    """The header of a frame of ``payload_length`` bytes: ``encode_frame`` without
    the payload, for writing a large payload after it without copying it into one
    frame. With ``mask``, the key ends the header and the payload must be masked."""
    code = _as_opcode(opcode)
    length = _as_index(payload_length)
    if length < 0 or length >> 63:
        raise ValueError(msg.ENCODE_BAD_LENGTH.format(length=length))
    return _frame_header(code, length, fin, rsv1, rsv2, rsv3, mask)


def _frame_header(code: int, length: int, fin: bool, rsv1: bool, rsv2: bool, rsv3: bool, mask: Any) -> bytes:
    """The header of a checked opcode and length, with the shortest length encoding
    and, with ``mask``, the key at its end."""
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
    return header if mask is None else header + _mask_key(mask)


class FrameParser(_OneThreadAtATime):
    """Turns the bytes one endpoint receives into frames (RFC 6455 §5).

    ``role`` is the receiving endpoint's: a "server" parses a client's frames, which
    must all be masked; a "client" parses a server's, which must not be.
    """

    __slots__ = ("_buffer", "_masked", "_max_frame_size", "_allow_rsv1", "_first_bytes", "_failed_code", "_pending_header_length")

    @_exclusive
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
        self._first_bytes = _FIRST_BYTES[self._allow_rsv1]
        self._buffer = bytearray()
        self._failed_code = 0
        # Header length of the frame at the buffer's start whose payload is still
        # arriving; 0 when there is none.
        self._pending_header_length = 0

    @_exclusive
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
        mask_bit = 0x80 if masked else 0
        first_bytes = self._first_bytes
        self._pending_header_length = 0
        try:
            while size - position >= 2:
                first = buf[position]
                second = buf[position + 1]
                opcode = first_bytes[first]
                # One test on the fast path; _header_error finds which rule broke.
                if opcode is None or second & 0x80 != mask_bit or (first & 0x08 and second & 0x7F > 125):
                    self._header_error(first, second)
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
                frame = _new_record(Frame)
                _set_record(frame, (opcode, payload, first >= 0x80, first & 0x40 != 0, first & 0x20 != 0, first & 0x10 != 0))
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
    @_exclusive
    def pending_header(self) -> Optional[FrameHeader]:
        """The header of the frame whose payload is still arriving, or None.

        With ``pending_payload`` it lets a protocol act on a frame before its end
        arrives, for example to reject invalid UTF-8 at once (RFC 6455 §8.1).
        """
        return self._pending_header()

    def _pending_header(self) -> Optional[FrameHeader]:
        if not self._pending_header_length:
            return None
        return parse_header(self._buffer)

    @property
    def buffered(self) -> int:
        """How many received bytes the parser holds: those of the frame not complete yet."""
        return len(self._buffer)

    @_exclusive
    def pending_payload(self, start: int = 0) -> Optional[bytes]:
        """The unmasked payload bytes of the pending frame received so far, from
        ``start`` on; None when no frame is pending."""
        header = self._pending_header()
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

    def _header_error(self, first: int, second: int) -> None:
        """Raises for the first rule, in order, that two header bytes break."""
        _check_first_bytes(first, second)
        if first & 0x40 and not self._allow_rsv1:
            raise ProtocolError(msg.RSV_SET.format(bit=1))
        if first & 0x20:
            raise ProtocolError(msg.RSV_SET.format(bit=2))
        if first & 0x10:
            raise ProtocolError(msg.RSV_SET.format(bit=3))
        raise ProtocolError(msg.MASK_REQUIRED if self._masked else msg.MASK_FORBIDDEN)


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
