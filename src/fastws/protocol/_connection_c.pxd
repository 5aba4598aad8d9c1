# Types for the compiled twin of _connection.py (built as fastws.protocol._connection_c):
# the connection's state as C fields, its per-frame methods as C calls. The .py stays
# the one source; this file only declares.

cimport cython
from cpython.object cimport PyObject_GenericSetAttr as set_field

from fastws._speedups cimport Frame, FrameParser, Utf8Validator, write_frame, write_frame_header


cdef extern from *:
    """
    /* object.__new__(kind): the frozen dataclass events have no __new__ of their own. */
    static PyObject *fastws_new_object(PyObject *kind) {
        static PyObject *no_arguments = NULL;
        if (no_arguments == NULL && (no_arguments = PyTuple_New(0)) == NULL)
            return NULL;
        return PyBaseObject_Type.tp_new((PyTypeObject *)kind, no_arguments, NULL);
    }
    """
    object new_object "fastws_new_object"(object kind)


cdef Py_ssize_t _PONGS_QUEUED
cdef Py_ssize_t _MASK_POOL


cdef object _quick_event(object kind, str name, object value)


cdef class Connection:
    cdef bint _client
    cdef public object max_message_size
    cdef public object max_fragments
    cdef public bint hold_failure
    cdef public object on_message
    cdef public bint auto_pong
    cdef public bint report_pings
    cdef public bint stream_messages
    cdef Py_ssize_t _max_head_size
    cdef Py_ssize_t _max_headers
    cdef public object state
    cdef public object subprotocol
    cdef public tuple extensions
    cdef public object close_code
    cdef public object close_reason
    cdef list _events
    cdef list _out
    cdef bytearray _handshake_buffer
    cdef bint _eof
    cdef bint _abort
    cdef FrameParser _parser
    cdef object _codec
    cdef Utf8Validator _validator
    cdef bytes _mask_pool
    cdef Py_ssize_t _mask_at
    cdef object _message
    cdef bint _compressed
    cdef Py_ssize_t _size
    cdef Py_ssize_t _fragments
    cdef bytearray _assembled
    cdef object _text_decoder
    cdef object _sending
    cdef bint _watching
    cdef bint _partial_text
    cdef Py_ssize_t _validated
    cdef object _held_close
    cdef object _last_pong
    cdef Py_ssize_t _pongs_queued

    @cython.locals(at=Py_ssize_t)
    cdef bytes _next_mask(self)
    cdef bytes _frame(self, object opcode, object payload, bint fin=*, bint rsv1=*)
    cdef object _frame_opcode(self, object opcode, bint fin)
    cdef bytes _send_data(self, object opcode, object payload, bint fin)
    cdef bytes _send_control(self, object opcode, object payload)
    cpdef void _receive_frames(self, object data) except *
    @cython.locals(parser=FrameParser)
    cdef void _watch_pending(self, bint completed) except *
    cdef void _start_partial(self, object header) except *
    @cython.locals(frame=Frame, index=Py_ssize_t, count=Py_ssize_t)
    cdef void _handle_frames(self, list frames) except *
    cdef void _deliver(self, bint text, bytes payload) except *
    @cython.locals(frame=Frame, end=Py_ssize_t, count=Py_ssize_t)
    cdef Py_ssize_t _take_run(self, list frames, Py_ssize_t start) except -1
    cdef void _piece(self, bint text, bytes payload, bint fin) except *
    cdef void _handle_fragment(self, Frame frame, object opcode) except *
    cdef void _handle_control(self, Frame frame) except *
    cpdef void _fail(self, object error) except *
    cpdef void _end(self, object happening) except *


cdef class ClientConnection(Connection):
    cdef object _request
    cdef str _key
    cdef object _reject
    cdef object _body_length


cdef class ServerConnection(Connection):
    cdef public bint plain_http
    cdef object _request
