# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=True, auto_pickle=False, freethreading_compatible=True
"""The Cython implementation: the hot paths over the C kernels in ``_kernels/``.

It mirrors ``_pure`` name for name and behaviour for behaviour (``_pure`` is the
specification, and the test suite runs every test against both). Nothing but
``_impl`` imports this module.

Threads: the module is declared free-threading compatible. The objects with mutable state
(``FrameParser``, ``Utf8Validator``, ``Masker``) hold a per-object guard while a method runs;
a second thread calling into the same object meanwhile gets a ``RuntimeError`` at once, so
their C state (buffers, positions, the parser's hand-managed payload reference) is never
touched by two threads together. Everything else is stateless or immutable, and the SIMD
level is switched atomically (``_kernels/atomics.h``).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from operator import index as _as_index
import os
import warnings

from . import _messages as msg
from .codes import DEFAULT_MAX_FRAME_SIZE, OPCODE_TABLE, CloseCode, close_code_or_int, is_sendable_close_code
from .errors import InvalidUtf8, ProtocolError

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1

cdef extern from "_kernels/kernels.h" nogil:
    enum:
        FASTWS_SIMD_SCALAR
        FASTWS_SIMD_SSE2
        FASTWS_SIMD_AVX2
        FASTWS_SIMD_AVX512
        FASTWS_SIMD_NEON
        FASTWS_UTF8_ACCEPT
        FASTWS_UTF8_REJECT
    void fastws_simd_init()
    int fastws_simd_best()
    int fastws_simd_supported(int level)
    int fastws_simd_set(int level)
    int fastws_simd_get()
    const char *fastws_simd_name(int level)
    void fastws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *key, unsigned phase)
    size_t fastws_utf8_valid_upto(const uint8_t *s, size_t n)
    size_t fastws_utf8_dfa(uint32_t *state, const uint8_t *s, size_t n)

cdef extern from "_kernels/atomics.h" nogil:
    bint fastws_guard_enter(long *flag)
    void fastws_guard_leave(long *flag)

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

cdef object _OPCODES = OPCODE_TABLE
cdef object _CLOSE_NO_STATUS = CloseCode.NO_STATUS_RCVD
cdef Py_ssize_t _BIG_PAYLOAD_STEP = 1 << 20  # growth floor of a payload that spans feeds


# -- SIMD levels --------------------------------------------------------------------

# Levels by rank, so FASTWS_SIMD can be capped at what the CPU has: on ARM, asking
# for sse2 or above gives neon.
cdef tuple _LEVELS = (FASTWS_SIMD_SCALAR, FASTWS_SIMD_SSE2, FASTWS_SIMD_NEON, FASTWS_SIMD_AVX2, FASTWS_SIMD_AVX512)
cdef dict _RANK = {FASTWS_SIMD_SCALAR: 0, FASTWS_SIMD_SSE2: 1, FASTWS_SIMD_NEON: 1, FASTWS_SIMD_AVX2: 2, FASTWS_SIMD_AVX512: 3}


def simd_levels():
    """The kernel levels this CPU can run, lowest first."""
    return tuple(fastws_simd_name(level).decode() for level in _LEVELS if fastws_simd_supported(level))


def get_simd():
    """The kernel level in use."""
    return fastws_simd_name(fastws_simd_get()).decode()


cdef int _level_by_name(str name) except -2:
    for level in _LEVELS:
        if fastws_simd_name(level).decode() == name:
            return level
    return -1


def set_simd(str level):
    """Selects a kernel level from ``simd_levels()`` (tests use it to run every level)."""
    cdef int wanted = _level_by_name(level)
    if wanted < 0 or fastws_simd_set(wanted) != 0:
        raise ValueError(msg.BAD_SIMD.format(level=level, levels=", ".join(simd_levels())))


cdef void _select_initial_level() except *:
    fastws_simd_init()
    requested = os.environ.get("FASTWS_SIMD", "")
    if not requested:
        return
    cdef int wanted = _level_by_name(requested)
    if wanted < 0:
        warnings.warn(f"FASTWS_SIMD={requested!r} is not a SIMD level; using {get_simd()}", RuntimeWarning)
        return
    best = None
    for level in _LEVELS:  # the highest supported level not above the one asked for
        if fastws_simd_supported(level) and _RANK[level] <= _RANK[wanted]:
            if best is None or _RANK[level] > _RANK[best]:
                best = level
    fastws_simd_set(best)


_select_initial_level()


# -- one thread at a time per object --------------------------------------------------

cdef int _enter(long *guard, str name) except -1:
    """Takes an object's guard, or raises if another thread holds it. Pair with
    ``fastws_guard_leave`` in a ``finally``."""
    if not fastws_guard_enter(guard):
        raise RuntimeError(msg.IN_USE.format(name=name))
    return 0


# -- input conversion -----------------------------------------------------------------

cdef object _acquire(object data, Py_buffer *view):
    """Fills ``view`` with a contiguous view of any buffer; returns what owns it (a
    contiguous copy for a non-contiguous buffer). Release ``view`` after use."""
    try:
        PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
        return data
    except BufferError:
        pass
    except TypeError:
        raise TypeError(msg.NOT_BYTES.format(type=type(data).__name__)) from None
    copy = memoryview(data).tobytes()
    PyObject_GetBuffer(copy, view, PyBUF_SIMPLE)
    return copy


cdef inline int _read_key(object mask, uint8_t *key) except -1:
    if type(mask) is bytes and PyBytes_GET_SIZE(mask) == 4:
        memcpy(key, PyBytes_AS_STRING(mask), 4)
        return 0
    return _read_any_key(mask, key)


cdef int _read_any_key(object mask, uint8_t *key) except -1:
    cdef Py_buffer view
    _acquire(mask, &view)
    try:
        if view.len != 4:
            raise ValueError(msg.MASK_LENGTH)
        memcpy(key, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef inline bytes _masked_copy(const uint8_t *src, Py_ssize_t length, const uint8_t *key):
    """A new bytes object holding ``src`` unmasked with ``key``: one pass over the payload."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, length)
    fastws_mask(<uint8_t *>PyBytes_AS_STRING(out), src, length, key, 0)
    return out


# -- masking (RFC 6455 §5.3) ----------------------------------------------------------

def apply_mask(data, mask):
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 §5.3), as new bytes."""
    cdef uint8_t key[4]
    cdef Py_buffer view
    _read_key(mask, key)
    if type(data) is bytes:
        return _masked_copy(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), key)
    _acquire(data, &view)
    try:
        return _masked_copy(<const uint8_t *>view.buf, view.len, key)
    finally:
        PyBuffer_Release(&view)


def apply_mask_into(buffer, mask):
    """Masks a writable, C-contiguous buffer in place (RFC 6455 §5.3)."""
    cdef uint8_t key[4]
    cdef Py_buffer view
    _read_key(mask, key)
    if type(buffer) is bytearray:  # the common case, without the buffer protocol's cost
        fastws_mask(<uint8_t *>PyByteArray_AS_STRING(buffer), <const uint8_t *>PyByteArray_AS_STRING(buffer),
                    PyByteArray_GET_SIZE(buffer), key, 0)
        return
    try:
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
    except (BufferError, TypeError):
        raise TypeError(msg.NOT_WRITABLE.format(type=type(buffer).__name__)) from None
    fastws_mask(<uint8_t *>view.buf, <const uint8_t *>view.buf, view.len, key, 0)
    PyBuffer_Release(&view)


@cython.final
cdef class Masker:
    """Masks a payload that arrives in pieces: each ``process`` call continues the
    mask where the previous one stopped."""

    cdef uint8_t _key[4]
    cdef unsigned _phase
    cdef long _guard

    def __init__(self, mask):
        cdef uint8_t key[4]
        _read_key(mask, key)
        _enter(&self._guard, "Masker")
        memcpy(self._key, key, 4)
        self._phase = 0
        fastws_guard_leave(&self._guard)

    def process(self, data):
        cdef Py_buffer view
        _acquire(data, &view)
        try:
            _enter(&self._guard, "Masker")
            try:
                out = PyBytes_FromStringAndSize(NULL, view.len)
                fastws_mask(<uint8_t *>PyBytes_AS_STRING(out), <const uint8_t *>view.buf, view.len, self._key, self._phase)
                self._phase = (self._phase + <size_t>view.len) & 3
                return out
            finally:
                fastws_guard_leave(&self._guard)
        finally:
            PyBuffer_Release(&view)

    def reset(self):
        """Starts the mask over, for the next payload."""
        _enter(&self._guard, "Masker")
        self._phase = 0
        fastws_guard_leave(&self._guard)


# -- UTF-8 (RFC 3629) -----------------------------------------------------------------

cdef inline size_t _utf8_error_at(const uint8_t *text, size_t length, uint32_t *state) noexcept nogil:
    """Runs from a character boundary with ``*state`` accepting: the index of the
    first byte that breaks the text, or ``length`` (``*state`` then tells whether a
    character is still open). SIMD finds the block, the automaton the byte."""
    cdef size_t good = fastws_utf8_valid_upto(text, length)
    if good == length:
        return length
    return good + fastws_utf8_dfa(state, text + good, length - good)


def validate_utf8(data):
    """Whether ``data`` is one complete, strict UTF-8 text (RFC 3629)."""
    cdef Py_buffer view
    cdef size_t length
    if type(data) is bytes:
        length = PyBytes_GET_SIZE(data)
        return fastws_utf8_valid_upto(<const uint8_t *>PyBytes_AS_STRING(data), length) == length
    _acquire(data, &view)
    length = view.len
    try:
        return fastws_utf8_valid_upto(<const uint8_t *>view.buf, length) == length
    finally:
        PyBuffer_Release(&view)


@cython.final
cdef class Utf8Validator:
    """Validates a text that arrives in chunks, failing at the first byte that can
    no longer begin valid UTF-8 (RFC 6455 §8.1)."""

    def __init__(self):
        self.reset()

    @cython.linetrace(False)  # untraced entry, traced body: see _speedups.pxd
    @cython.profile(False)
    cpdef reset(self):
        """Forgets everything fed, for the next text."""
        self._reset()

    cdef int _reset(self) except -1:
        _enter(&self._guard, "Utf8Validator")
        self._state = FASTWS_UTF8_ACCEPT
        self._offset = 0
        self._error = -1
        fastws_guard_leave(&self._guard)
        return 0

    @property
    def position(self):
        """Bytes fed so far (up to the error, once one is found)."""
        _enter(&self._guard, "Utf8Validator")
        position = self._offset if self._error < 0 else self._error
        fastws_guard_leave(&self._guard)
        return position

    @cython.linetrace(False)  # untraced entry, traced body: see _speedups.pxd
    @cython.profile(False)
    cpdef feed(self, chunk):
        """Raises ``InvalidUtf8`` as soon as the text fed so far cannot be valid."""
        self._feed_guarded(chunk)

    cdef int _feed_guarded(self, chunk) except -1:
        _enter(&self._guard, "Utf8Validator")
        try:
            self._feed(chunk)
        finally:
            fastws_guard_leave(&self._guard)
        return 0

    cdef int _feed(self, chunk) except -1:
        cdef Py_buffer view
        cdef const uint8_t *text
        cdef size_t length, position = 0
        cdef uint32_t state = self._state
        if self._error >= 0:
            raise InvalidUtf8(self._error)
        _acquire(chunk, &view)
        text = <const uint8_t *>view.buf
        length = view.len
        # Finish the character the previous chunk left open, a byte at a time.
        while state != FASTWS_UTF8_ACCEPT and position < length:
            if fastws_utf8_dfa(&state, text + position, 1) == 0:
                break
            position += 1
        if state == FASTWS_UTF8_ACCEPT and position < length:
            position += _utf8_error_at(text + position, length - position, &state)
        PyBuffer_Release(&view)
        self._state = state
        if state == FASTWS_UTF8_REJECT:
            self._error = self._offset + position
            raise InvalidUtf8(self._error)
        self._offset += length
        return 0

    @cython.linetrace(False)  # untraced entry, traced body: see _speedups.pxd
    @cython.profile(False)
    cpdef finish(self):
        """Raises ``InvalidUtf8`` (position = bytes fed) if the text ends inside a character."""
        self._finish()

    cdef int _finish(self) except -1:
        cdef Py_ssize_t error
        _enter(&self._guard, "Utf8Validator")
        try:
            if self._error < 0 and self._state != FASTWS_UTF8_ACCEPT:
                self._error = self._offset
                self._state = FASTWS_UTF8_REJECT
            error = self._error
        finally:
            fastws_guard_leave(&self._guard)
        if error >= 0:
            raise InvalidUtf8(error)
        return 0


# -- frames (RFC 6455 §5.2) -----------------------------------------------------------

cdef object _as_opcode(object opcode):
    return _OPCODES[_opcode_value(opcode)]


cdef inline Py_ssize_t _opcode_value(object opcode) except -1:
    """An opcode's number, from an ``Opcode`` or any integer (``operator.index``);
    raises ``ValueError`` for one RFC 6455 does not define."""
    cdef Py_ssize_t value
    try:
        value = opcode if isinstance(opcode, int) else _as_index(opcode)
    except OverflowError:
        value = -1  # far out of range, refused below like any other
    if not 0 <= value < 16 or _OPCODES[value] is None:
        raise ValueError(msg.ENCODE_BAD_OPCODE.format(opcode=opcode))
    return value


@cython.final
@cython.freelist(64)
cdef class Frame:
    """One frame, payload unmasked."""

    def __init__(self, opcode, payload=b"", fin=True, rsv1=False, rsv2=False, rsv3=False):
        cdef Py_buffer view
        self.opcode = _as_opcode(opcode)
        if type(payload) is bytes:
            self.payload = payload
        else:
            _acquire(payload, &view)
            self.payload = PyBytes_FromStringAndSize(<char *>view.buf, view.len)
            PyBuffer_Release(&view)
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3

    def _values(self):
        return (self.opcode, self.payload, self.fin, self.rsv1, self.rsv2, self.rsv3)

    def __eq__(self, other):
        if type(other) is not Frame:
            return NotImplemented
        return self._values() == (<Frame>other)._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self):
        return (
            f"Frame(opcode={self.opcode!r}, payload={self.payload!r}, fin={self.fin!r}, "
            f"rsv1={self.rsv1!r}, rsv2={self.rsv2!r}, rsv3={self.rsv3!r})"
        )


cdef inline Frame _new_frame(object opcode, bytes payload, uint8_t first):
    cdef Frame frame = Frame.__new__(Frame)
    frame.opcode = opcode
    frame.payload = payload
    frame.fin = first >> 7
    frame.rsv1 = (first >> 6) & 1
    frame.rsv2 = (first >> 5) & 1
    frame.rsv3 = (first >> 4) & 1
    return frame


@cython.final
cdef class FrameHeader:
    """A parsed frame header (RFC 6455 §5.2); ``mask`` is None when not masked."""

    cdef readonly bint fin
    cdef readonly bint rsv1
    cdef readonly bint rsv2
    cdef readonly bint rsv3
    cdef readonly object opcode
    cdef readonly bint masked
    cdef readonly object mask
    cdef readonly object payload_length
    cdef readonly Py_ssize_t header_length

    def __init__(self, *, fin, rsv1, rsv2, rsv3, opcode, masked, mask, payload_length, header_length):
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.masked = masked
        self.mask = mask
        self.payload_length = payload_length
        self.header_length = header_length

    def _values(self):
        return (
            self.fin, self.rsv1, self.rsv2, self.rsv3, self.opcode,
            self.masked, self.mask, self.payload_length, self.header_length,
        )

    def __eq__(self, other):
        if type(other) is not FrameHeader:
            return NotImplemented
        return self._values() == (<FrameHeader>other)._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self):
        return (
            f"FrameHeader(fin={self.fin!r}, rsv1={self.rsv1!r}, rsv2={self.rsv2!r}, rsv3={self.rsv3!r}, "
            f"opcode={self.opcode!r}, masked={self.masked!r}, mask={self.mask!r}, "
            f"payload_length={self.payload_length!r}, header_length={self.header_length!r})"
        )


cdef object _check_first_bytes(uint8_t first, uint8_t second):
    """The rules that two header bytes can break whatever the role (RFC 6455 §5.2, §5.5);
    returns the Opcode member."""
    opcode = _OPCODES[first & 0x0F]
    if opcode is None:
        raise ProtocolError(msg.RESERVED_OPCODE.format(opcode=first & 0x0F))
    if first & 0x08:  # a control frame
        if not first & 0x80:
            raise ProtocolError(msg.CONTROL_FRAGMENTED)
        if second & 0x7F > 125:
            raise ProtocolError(msg.CONTROL_TOO_LONG)
    return opcode


cdef Py_ssize_t _read_length(const uint8_t *header, Py_ssize_t available, uint64_t *length) except -1:
    """Decodes the payload length (big-endian, RFC 6455 §5.2) of a header whose first
    two bytes are checked; returns the header's length without the mask key, or 0 if
    the extended length has not fully arrived."""
    cdef uint64_t value = header[1] & 0x7F
    cdef int i
    if value < 126:
        length[0] = value
        return 2
    if value == 126:
        if available < 4:
            return 0
        length[0] = (<uint64_t>header[2] << 8) | header[3]
        return 4
    if available < 10:
        return 0
    value = 0
    for i in range(2, 10):
        value = (value << 8) | header[i]
    if value >> 63:
        raise ProtocolError(msg.LENGTH_MSB)
    length[0] = value
    return 10


def parse_header(data, Py_ssize_t offset=0):
    """Parses the frame header at ``data[offset:]``; None if more bytes are needed.

    Checks the rules that hold for every endpoint (reserved opcodes, control frames,
    the 64-bit length's top bit) and leaves masking and RSV bits, which depend on the
    role and the extensions, to the caller.
    """
    cdef Py_buffer view
    cdef const uint8_t *header
    cdef Py_ssize_t available, header_length
    cdef uint64_t length
    _acquire(data, &view)
    try:
        if not 0 <= offset <= view.len:
            raise ValueError(msg.BAD_OFFSET.format(offset=offset, length=view.len))
        header = <const uint8_t *>view.buf + offset
        available = view.len - offset
        if available < 2:
            return None
        opcode = _check_first_bytes(header[0], header[1])
        header_length = _read_length(header, available, &length)
        if header_length == 0:
            return None
        mask = None
        if header[1] & 0x80:
            if available < header_length + 4:
                return None
            mask = PyBytes_FromStringAndSize(<char *>header + header_length, 4)
            header_length += 4
        return FrameHeader(
            fin=header[0] & 0x80 != 0,
            rsv1=header[0] & 0x40 != 0,
            rsv2=header[0] & 0x20 != 0,
            rsv3=header[0] & 0x10 != 0,
            opcode=opcode,
            masked=mask is not None,
            mask=mask,
            payload_length=length,
            header_length=header_length,
        )
    finally:
        PyBuffer_Release(&view)


cdef inline Py_ssize_t _write_header(uint8_t *out, uint8_t first, uint8_t mask_bit, Py_ssize_t length) noexcept:
    """Writes a frame header with the shortest length encoding; returns its size."""
    cdef int i
    out[0] = first
    if length < 126:
        out[1] = mask_bit | <uint8_t>length
        return 2
    if length < 0x10000:
        out[1] = mask_bit | 126
        out[2] = <uint8_t>(length >> 8)
        out[3] = <uint8_t>length
        return 4
    out[1] = mask_bit | 127
    for i in range(8):
        out[9 - i] = <uint8_t>(<uint64_t>length >> (8 * i))
    return 10


def encode_frame(opcode, payload, *, fin=True, rsv1=False, rsv2=False, rsv3=False, mask=None):
    """One frame on the wire, with the shortest length encoding (RFC 6455 §5.2).

    ``mask`` is 4 bytes to mask the payload with (what clients send), or None.
    """
    return _encode_frame(opcode, payload, fin, rsv1, rsv2, rsv3, mask)


def encode_frame_header(opcode, payload_length, *, fin=True, rsv1=False, rsv2=False, rsv3=False, mask=None):
    """The header of a frame of ``payload_length`` bytes: ``encode_frame`` without
    the payload, for writing a large payload after it without copying it into one
    frame. With ``mask``, the key ends the header and the payload must be masked."""
    cdef uint8_t header[14]
    cdef Py_ssize_t code = _opcode_value(opcode)
    length = _as_index(payload_length)
    if length < 0 or length >> 63:
        raise ValueError(msg.ENCODE_BAD_LENGTH.format(length=length))
    return PyBytes_FromStringAndSize(<char *>header, _frame_header(header, code, length, fin, rsv1, rsv2, rsv3, mask))


cdef bytes write_frame(object opcode, object payload, bint fin, bint rsv1, object mask):
    return _encode_frame(opcode, payload, fin, rsv1, False, False, mask)


cdef bytes write_frame_header(object opcode, Py_ssize_t payload_length, bint fin, bint rsv1):
    cdef uint8_t header[14]
    cdef Py_ssize_t header_length = _frame_header(header, _opcode_value(opcode), payload_length, fin, rsv1, False, False, None)
    return PyBytes_FromStringAndSize(<char *>header, header_length)


cdef Py_ssize_t _frame_header(
    uint8_t *header, Py_ssize_t code, Py_ssize_t length, bint fin, bint rsv1, bint rsv2, bint rsv3, object mask
) except -1:
    """Writes the header of a checked opcode and length into ``header`` (14 bytes), with
    the shortest length encoding and, with ``mask``, the key at its end; returns its size."""
    cdef uint8_t first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | <uint8_t>code
    cdef Py_ssize_t header_length
    if code >= 8 and (not fin or length > 125):
        raise ValueError(msg.ENCODE_CONTROL)
    header_length = _write_header(header, first, 0 if mask is None else 0x80, length)
    if mask is not None:
        _read_key(mask, header + header_length)
        header_length += 4
    return header_length


cdef bytes _encode_frame(object opcode, object payload, bint fin, bint rsv1, bint rsv2, bint rsv3, object mask):
    cdef Py_buffer view
    cdef uint8_t header[14]
    cdef Py_ssize_t header_length
    cdef uint8_t *out
    cdef bytes frame
    cdef Py_ssize_t code = _opcode_value(opcode)
    _acquire(payload, &view)
    try:
        header_length = _frame_header(header, code, view.len, fin, rsv1, rsv2, rsv3, mask)
        frame = PyBytes_FromStringAndSize(NULL, header_length + view.len)
        out = <uint8_t *>PyBytes_AS_STRING(frame)
        memcpy(out, header, header_length)
        if mask is None:
            memcpy(out + header_length, view.buf, view.len)
        else:  # the key is the header's last 4 bytes
            fastws_mask(out + header_length, <const uint8_t *>view.buf, view.len, header + header_length - 4, 0)
        return frame
    finally:
        PyBuffer_Release(&view)


@cython.final
cdef class FrameParser:
    """Turns the bytes one endpoint receives into frames (RFC 6455 §5).

    ``role`` is the receiving endpoint's: a "server" parses a client's frames, which
    must all be masked; a "client" parses a server's, which must not be.
    """

    def __cinit__(self):
        self._partial = NULL

    def __init__(self, role, *, max_frame_size=DEFAULT_MAX_FRAME_SIZE, allow_rsv1=False):
        if role != "server" and role != "client":
            raise ValueError(msg.BAD_ROLE.format(role=role))
        if max_frame_size is None:
            max_frame_size = (1 << 63) - 1
        elif type(max_frame_size) is not int or max_frame_size < 0:
            raise ValueError(msg.BAD_LIMIT)
        cdef uint64_t limit = min(max_frame_size, (1 << 63) - 1)
        cdef bint rsv1 = allow_rsv1
        _enter(&self._guard, "FrameParser")
        self._masked = role == "server"
        self._max_frame_size = limit
        self._allow_rsv1 = rsv1
        self._failed_code = 0
        self._header_have = 0
        self._drop_partial()
        fastws_guard_leave(&self._guard)

    def __dealloc__(self):
        Py_XDECREF(self._partial)

    cdef void _drop_partial(self) noexcept:
        Py_XDECREF(self._partial)
        self._partial = NULL
        self._partial_have = 0

    cdef Py_ssize_t _read_header(self, const uint8_t *header, Py_ssize_t available) except -1:
        """Checks and decodes the header at ``header``; returns its full length, or 0
        if more bytes are needed. Every rule is checked as soon as its bytes are here."""
        cdef uint8_t first, second
        cdef Py_ssize_t header_length
        cdef uint64_t length
        if available < 2:
            return 0
        first = header[0]
        second = header[1]
        opcode = _check_first_bytes(first, second)
        if first & 0x70:
            if first & 0x40 and not self._allow_rsv1:
                raise ProtocolError(msg.RSV_SET.format(bit=1))
            if first & 0x20:
                raise ProtocolError(msg.RSV_SET.format(bit=2))
            if first & 0x10:
                raise ProtocolError(msg.RSV_SET.format(bit=3))
        if (second >> 7) != self._masked:
            raise ProtocolError(msg.MASK_REQUIRED if self._masked else msg.MASK_FORBIDDEN)
        header_length = _read_length(header, available, &length)
        if header_length == 0:
            return 0
        if length > self._max_frame_size:
            raise ProtocolError(msg.FRAME_TOO_BIG.format(length=length, limit=self._max_frame_size), 1009)
        if self._masked:
            if available < header_length + 4:
                return 0
            memcpy(self._key, header + header_length, 4)
            header_length += 4
        self._first = first
        self._opcode = opcode
        self._length = length
        self._header_length = header_length
        return header_length

    cdef bytes _payload_of(self, const uint8_t *data, Py_ssize_t length):
        if self._masked:
            return _masked_copy(data, length, self._key)
        return PyBytes_FromStringAndSize(<const char *>data, length)

    cdef Py_ssize_t _fill_partial(self, const uint8_t *data, Py_ssize_t size, list frames) except -1:
        """Adds what ``data`` holds of the pending payload; returns the bytes taken and
        appends the frame when the payload is complete."""
        cdef Py_ssize_t missing = <Py_ssize_t>self._length - self._partial_have
        cdef Py_ssize_t take = size if size < missing else missing
        cdef Py_ssize_t capacity = PyBytes_GET_SIZE(<object>self._partial)
        cdef Py_ssize_t wanted
        cdef uint8_t *out
        if self._partial_have + take > capacity:
            wanted = max(capacity * 2, self._partial_have + take)
            _PyBytes_Resize(&self._partial, min(wanted, <Py_ssize_t>self._length))
        out = <uint8_t *>PyBytes_AS_STRING(<object>self._partial) + self._partial_have
        if self._masked:
            fastws_mask(out, data, take, self._key, self._partial_have & 3)
        else:
            memcpy(out, data, take)
        self._partial_have += take
        if self._partial_have == <Py_ssize_t>self._length:
            payload = <bytes>self._partial
            self._drop_partial()
            frames.append(_new_frame(self._opcode, payload, self._first))
        return take

    cdef int _start_partial(self, const uint8_t *data, Py_ssize_t size, list frames) except -1:
        cdef Py_ssize_t capacity = <Py_ssize_t>self._length
        if capacity > _BIG_PAYLOAD_STEP and capacity > 2 * size:
            capacity = max(_BIG_PAYLOAD_STEP, 2 * size)
        payload = PyBytes_FromStringAndSize(NULL, capacity)
        self._partial = <PyObject *>payload
        Py_INCREF(payload)
        self._partial_have = 0
        self._fill_partial(data, size, frames)
        return 0

    @property
    def pending_header(self):
        """The header of the frame whose payload is still arriving, or None.

        With ``pending_payload`` it lets a protocol act on a frame before its end
        arrives, for example to reject invalid UTF-8 at once (RFC 6455 §8.1).
        """
        _enter(&self._guard, "FrameParser")
        try:
            return self._pending_header()
        finally:
            fastws_guard_leave(&self._guard)

    cdef object _pending_header(self):
        if self._partial is NULL:
            return None
        return FrameHeader(
            fin=self._first & 0x80 != 0,
            rsv1=self._first & 0x40 != 0,
            rsv2=self._first & 0x20 != 0,
            rsv3=self._first & 0x10 != 0,
            opcode=self._opcode,
            masked=self._masked,
            mask=PyBytes_FromStringAndSize(<char *>self._key, 4) if self._masked else None,
            payload_length=self._length,
            header_length=self._header_length,
        )

    @property
    def buffered(self):
        """How many received bytes the parser holds: those of the frame not complete yet."""
        if self._partial is not NULL:
            return self._header_length + self._partial_have
        return self._header_have

    @cython.linetrace(False)  # untraced entry, traced body: see _speedups.pxd
    @cython.profile(False)
    cpdef pending_payload(self, Py_ssize_t start=0):
        """The unmasked payload bytes of the pending frame received so far, from
        ``start`` on; None when no frame is pending."""
        return self._pending_payload(start)

    cdef object _pending_payload(self, Py_ssize_t start):
        _enter(&self._guard, "FrameParser")
        try:
            if self._partial is NULL:
                return None
            if not 0 <= start <= self._partial_have:
                raise ValueError(msg.BAD_OFFSET.format(offset=start, length=self._partial_have))
            return PyBytes_FromStringAndSize(PyBytes_AS_STRING(<object>self._partial) + start, self._partial_have - start)
        finally:
            fastws_guard_leave(&self._guard)

    @cython.linetrace(False)  # untraced entry, traced body: see _speedups.pxd
    @cython.profile(False)
    cpdef list feed(self, data):
        """Returns the frames that ``data`` completed; keeps an unfinished one's bytes."""
        return self._feed_guarded(data)

    cdef list _feed_guarded(self, data):
        _enter(&self._guard, "FrameParser")
        try:
            return self._feed(data)
        finally:
            fastws_guard_leave(&self._guard)

    cdef list _feed(self, data):
        cdef Py_buffer view
        cdef const uint8_t *buf
        cdef Py_ssize_t size, position = 0, header_length, take, had
        cdef list frames = []
        if self._failed_code:
            raise ProtocolError(msg.AFTER_ERROR, self._failed_code)
        _acquire(data, &view)
        buf = <const uint8_t *>view.buf
        size = view.len
        try:
            if self._partial is not NULL:
                position = self._fill_partial(buf, size, frames)
            while position < size:
                if self._header_have:
                    # Complete a split header from its saved bytes plus the new ones.
                    had = self._header_have
                    take = min(14 - had, size - position)
                    memcpy(self._header + had, buf + position, take)
                    header_length = self._read_header(self._header, had + take)
                    if header_length == 0:
                        self._header_have = had + take
                        position += take
                        break
                    self._header_have = 0
                    position += header_length - had
                else:
                    header_length = self._read_header(buf + position, size - position)
                    if header_length == 0:
                        take = size - position
                        memcpy(self._header, buf + position, take)
                        self._header_have = take
                        break
                    position += header_length
                if <uint64_t>(size - position) >= self._length:
                    frames.append(_new_frame(self._opcode, self._payload_of(buf + position, <Py_ssize_t>self._length), self._first))
                    position += <Py_ssize_t>self._length
                else:
                    self._start_partial(buf + position, size - position, frames)
                    break
        except ProtocolError as error:
            self._failed_code = error.close_code
            self._header_have = 0
            self._drop_partial()
            error.frames = frames
            raise
        finally:
            PyBuffer_Release(&view)
        return frames


# -- close frames (RFC 6455 §5.5.1, §7.4) ---------------------------------------------

def encode_close(code, str reason=""):
    """The payload of a close frame: the status code, then the UTF-8 reason."""
    code = _as_index(code)
    if not is_sendable_close_code(code):
        raise ValueError(msg.CLOSE_BAD_CODE.format(code=code))
    data = reason.encode("utf-8")
    if len(data) > 123:
        raise ValueError(msg.CLOSE_REASON_TOO_LONG.format(length=len(data)))
    return (<int>code).to_bytes(2, "big") + data


def parse_close(payload):
    """``(code, reason)`` from a close frame's payload; (1005, "") when it is empty.

    Raises ``ProtocolError`` (1002) for a 1-byte payload, a code that must not be
    sent or a reason over 123 bytes, and ``InvalidUtf8`` (1007, ``position`` within
    the reason) for a reason that is not UTF-8.
    """
    cdef Py_buffer view
    cdef const uint8_t *data
    cdef Py_ssize_t size
    cdef size_t bad
    cdef uint32_t state = FASTWS_UTF8_ACCEPT
    cdef int code
    _acquire(payload, &view)
    try:
        data = <const uint8_t *>view.buf
        size = view.len
        if size == 0:
            return _CLOSE_NO_STATUS, ""
        if size == 1:
            raise ProtocolError(msg.CLOSE_ONE_BYTE)
        code = (data[0] << 8) | data[1]
        if not is_sendable_close_code(code):
            raise ProtocolError(msg.CLOSE_BAD_CODE.format(code=code))
        if size > 125:
            raise ProtocolError(msg.CLOSE_REASON_TOO_LONG.format(length=size - 2))
        bad = _utf8_error_at(data + 2, size - 2, &state)
        if bad < <size_t>(size - 2) or state != FASTWS_UTF8_ACCEPT:
            raise InvalidUtf8(bad, msg.CLOSE_REASON_UTF8)
        return close_code_or_int(code), PyUnicode_DecodeUTF8(<const char *>data + 2, size - 2, NULL)
    finally:
        PyBuffer_Release(&view)
