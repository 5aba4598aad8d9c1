# The C-level API of the Cython core, for modules compiled over it (the compiled
# protocol, fastws.protocol._connection_c): its frames' fields read as C fields, and the
# parser, validator and frame writer called without a Python call. Python code uses
# the same names through fastws.load_implementation("cython").
#
# Each cpdef method is an untraced entry (linetrace and profile off) over a cdef body:
# under line tracing (the coverage build), a cpdef method that raises stops coverage's
# tracer for the rest of the process (Cython 3.3), while a cdef body raising is fine.

cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t, uint64_t


@cython.final
cdef class Frame:
    cdef readonly object opcode
    cdef readonly bytes payload
    cdef readonly bint fin
    cdef readonly bint rsv1
    cdef readonly bint rsv2
    cdef readonly bint rsv3


@cython.final
cdef class Utf8Validator:
    cdef uint32_t _state
    cdef Py_ssize_t _offset
    cdef Py_ssize_t _error  # -1 while valid
    cdef long _guard

    cpdef reset(self)
    cpdef feed(self, chunk)
    cpdef finish(self)
    cdef int _reset(self) except -1
    cdef int _feed_guarded(self, chunk) except -1
    cdef int _finish(self) except -1
    cdef int _feed(self, chunk) except -1


@cython.final
cdef class FrameParser:
    cdef bint _masked
    cdef bint _allow_rsv1
    cdef uint64_t _max_frame_size
    cdef int _failed_code
    # A header split across feeds: its first bytes, up to the longest header.
    cdef uint8_t _header[14]
    cdef Py_ssize_t _header_have
    # The frame whose header is parsed: what the header said.
    cdef uint8_t _first
    cdef object _opcode
    cdef uint64_t _length
    cdef Py_ssize_t _header_length
    cdef uint8_t _key[4]
    # A payload split across feeds, unmasked as it arrives into a bytes object that
    # grows geometrically (so memory follows what arrived, not what was announced).
    cdef PyObject *_partial
    cdef Py_ssize_t _partial_have
    cdef long _guard

    cpdef list feed(self, data)
    cpdef pending_payload(self, Py_ssize_t start=*)
    cdef list _feed_guarded(self, data)
    cdef object _pending_payload(self, Py_ssize_t start)
    cdef void _drop_partial(self) noexcept
    cdef Py_ssize_t _read_header(self, const uint8_t *header, Py_ssize_t available) except -1
    cdef bytes _payload_of(self, const uint8_t *data, Py_ssize_t length)
    cdef Py_ssize_t _fill_partial(self, const uint8_t *data, Py_ssize_t size, list frames) except -1
    cdef int _start_partial(self, const uint8_t *data, Py_ssize_t size, list frames) except -1
    cdef object _pending_header(self)
    cdef list _feed(self, data)


# encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask), as a C call.
cdef bytes write_frame(object opcode, object payload, bint fin, bint rsv1, object mask)
# encode_frame_header(opcode, payload_length, fin=fin, rsv1=rsv1), unmasked, as a C call.
cdef bytes write_frame_header(object opcode, Py_ssize_t payload_length, bint fin, bint rsv1)
