"""The connection: a sans-IO WebSocket endpoint (RFC 6455), client or server.

Bytes in (``receive_data``, ``receive_eof``), events out (``events()``); events or
methods in (``send``, ``send_text``...), bytes out (each ``send*`` returns the bytes
to write, and ``data_to_send()`` what the connection queued on its own: automatic
pongs, the echo of a close frame, the close frame that fails a connection).

Every frame goes through the framing core: ``FrameParser`` splits and unmasks what
arrives, ``Utf8Validator`` checks text, ``parse_close`` checks close frames,
``encode_frame`` writes what leaves.

This one source is both implementations of the protocol: run as Python, over the
pure-Python core; compiled by Cython (as ``_connection_c``, its attributes and hot
methods typed by ``_connection_c.pxd``), over the Cython core. ``fastws.protocol``
picks one (``load_implementation``).
"""

from __future__ import annotations

import codecs
import os
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, List, Optional, Tuple, Union

from .. import load_implementation

try:
    import cython
except ImportError:  # Cython is only needed to build the compiled twin; not binding the
    # name by assignment keeps Cython's own meaning of it when this file is compiled
    globals()["cython"] = SimpleNamespace(compiled=False)

from ..codes import CloseCode, Opcode
from ..errors import ProtocolError
from . import _handshake
from ._deflate import DeflateCodec, PerMessageDeflate
from ._errors import HandshakeError, InvalidState, close_for
from ._events import (
    AcceptConnection,
    BinaryMessage,
    CloseConnection,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    HttpRequest,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from ._http import DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, header_values, parse_head, parse_request_line
from ._prepared import PreparedMessage
from ._state import ConnectionState, Happening, next_state

__all__ = ["ClientConnection", "Connection", "ServerConnection", "DEFAULT_MAX_FRAGMENTS", "DEFAULT_MAX_MESSAGE_SIZE", "LARGE_MESSAGE"]

DEFAULT_MAX_MESSAGE_SIZE = 2**20
#: Fragments one message may arrive in. Each costs work however small it is, so a
#: message of endless 1-byte fragments is refused (1009) long before its size is.
DEFAULT_MAX_FRAGMENTS = 4096
#: From this size on, ``send_message_parts`` gives an unmasked, uncompressed message
#: back as it is, after its frame header, instead of copying it into one frame.
LARGE_MESSAGE = 64 * 1024

COMPILED = cython.compiled
#: The framing core under this implementation of the protocol.
core: Any = load_implementation("cython" if COMPILED else "python")

if not cython.compiled:  # compiled, these are C calls (_connection_c.pxd)
    new_object = object.__new__
    set_field = object.__setattr__

    def write_frame(opcode: Opcode, payload: Any, fin: bool, rsv1: bool, mask: Optional[bytes]) -> bytes:
        return core.encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask)  # type: ignore[no-any-return]

    def write_frame_header(opcode: Opcode, payload_length: int, fin: bool, rsv1: bool) -> bytes:
        return core.encode_frame_header(opcode, payload_length, fin=fin, rsv1=rsv1)  # type: ignore[no-any-return]


_TEXT, _BINARY, _CONTINUATION = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
_CLOSE, _PING, _PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
_CONNECTING, _OPEN, _CLOSING, _CLOSED = (
    ConnectionState.CONNECTING,
    ConnectionState.OPEN,
    ConnectionState.CLOSING,
    ConnectionState.CLOSED,
)
_PONGS_QUEUED = 16  # automatic pongs queued one per ping; past them, the last one is replaced
_MASK_POOL = 1024  # random bytes drawn at once: 256 masking keys per os.urandom call
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


def _quick_event(kind: type, name: str, value: Any) -> Event:
    """``kind(value)`` for an event of one field given by ``name`` (the others at
    their defaults), without the frozen dataclass's ``__init__``: the protocol makes
    one per message, and that ``__init__`` costs more than the rest of receiving it."""
    event: Event = new_object(kind)
    set_field(event, name, value)
    return event


class Connection:
    """What both roles share: frames, messages, control frames and closing.

    Use ``ClientConnection`` or ``ServerConnection``.
    """

    def __init__(
        self,
        client: bool,
        *,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: Optional[int] = DEFAULT_MAX_FRAGMENTS,
        auto_pong: bool = True,
        report_pings: bool = True,
        stream_messages: bool = False,
        hold_failure: bool = False,
        on_message: Optional[Callable[[Union[str, bytes], bool], Any]] = None,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self._client = client
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        #: Whether a protocol failure waits for ``fail()`` (see ``failing``).
        self.hold_failure = hold_failure
        #: Called as ``on_message(data, message_finished)`` with each message
        #: (``str`` for text, ``bytes`` for binary; with ``stream_messages``, each
        #: piece of a fragmented one) instead of a ``TextMessage``/``BinaryMessage``
        #: event: an I/O layer that hands messages on saves an object per message.
        self.on_message = on_message
        self.auto_pong = auto_pong
        #: Whether each ping comes out as a ``Ping`` event; an I/O layer that lets the
        #: connection answer them (``auto_pong``) may not need them.
        self.report_pings = report_pings
        self.stream_messages = stream_messages
        self._max_head_size = max_head_size
        self._max_headers = max_headers
        #: Where the connection is in RFC 6455's life cycle.
        self.state = _CONNECTING
        #: The subprotocol and extensions the handshake agreed on.
        self.subprotocol: Optional[str] = None
        self.extensions: Tuple[PerMessageDeflate, ...] = ()
        #: The peer's close frame, once received (code 1006: the transport ended first).
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self._events: List[Event] = []
        self._out: List[bytes] = []
        self._handshake_buffer = bytearray()
        self._eof = False
        self._abort = False  # the transport should close without a closing handshake
        self._parser: Any = None
        self._codec: Optional[DeflateCodec] = None
        self._validator = core.Utf8Validator()
        self._mask_pool = b""
        self._mask_at = _MASK_POOL
        # The message being received: its opcode (None between messages), whether
        # it is compressed, its size so far and its pieces.
        self._message: Optional[Opcode] = None
        self._compressed = False
        self._size = 0
        self._fragments = 0
        self._assembled = bytearray()  # one buffer: 1-byte fragments cost 1 byte each
        self._text_decoder: Any = None
        # The message being sent in fragments: its opcode, None between messages.
        self._sending: Optional[Opcode] = None
        # The frame still arriving after what was received (the parser's pending
        # frame), watched so that text is validated before it ends (_watch_pending).
        self._watching = False  # a pending frame was seen after the last feed
        self._partial_text = False  # ... and its payload is text to validate now
        self._validated = 0  # payload bytes of that frame already validated
        self._held_close: Optional[bytes] = None  # a failure's close frame (hold_failure)
        self._last_pong: Optional[bytes] = None  # the automatic pong not taken yet, if any
        self._pongs_queued = 0  # automatic pongs not taken yet

    # -- public API: input ----------------------------------------------------------

    def receive_data(self, data: Any) -> None:
        """Takes bytes received from the peer; read the results with ``events()``."""
        if self.state is _CONNECTING:
            self._receive_handshake(data)
        elif self._parser is not None:
            self._receive_frames(data)

    def receive_eof(self) -> None:
        """The peer closed its side of the transport."""
        if self._eof:
            return
        self._eof = True
        if self.state is _CONNECTING:
            self._events.append(self._handshake_eof())
        elif self.state is not _CLOSED:
            self._held_close = None
            self.close_code, self.close_reason = CloseCode.ABNORMAL_CLOSURE, ""
            self._events.append(CloseConnection(CloseCode.ABNORMAL_CLOSURE, ""))
        self._end(Happening.EOF)

    def events(self) -> List[Event]:
        """The events since the last call, in order."""
        events, self._events = self._events, []
        return events

    # -- public API: what the connection is -----------------------------------------

    @property
    def role(self) -> str:
        """ "client" or "server"."""
        return "client" if self._client else "server"

    @property
    def implementation(self) -> ModuleType:
        """The framing core this connection runs on (``fastws.load_implementation``)."""
        return core  # type: ignore[no-any-return]

    @property
    def sending_fragments(self) -> bool:
        """Whether a message sent with ``fin=False`` awaits its last fragment: until
        then only that message's fragments and control frames may be sent."""
        return self._sending is not None

    @property
    def partial_frame_bytes(self) -> int:
        """Bytes received of a frame not complete yet (its header and its payload so
        far; 0 between frames). An I/O layer can tell a read that fell inside one
        large frame from a read of many small frames that carried no message."""
        parser = self._parser
        return 0 if parser is None else parser.buffered

    @property
    def failing(self) -> bool:
        """With ``hold_failure``: the connection failed (a ``ConnectionFailed`` event
        came out, input is ignored) but its close frame waits for ``fail()``, so
        that the application can still answer the messages that arrived before the
        failure (an echo server echoes every one of them, RFC 6455 §7.1.7 allows it)."""
        return self._held_close is not None

    def fail(self) -> bytes:
        """Sends the close frame of a failure held by ``hold_failure``, and closes.
        Returns the bytes to write (nothing when no failure is held)."""
        held, self._held_close = self._held_close, None
        if held is None:
            return b""
        self._out.append(held)
        self._abort = True
        self._end(Happening.FAIL)
        return self.data_to_send()

    # -- public API: output ---------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes the connection queued on its own (pongs, close frames, a
        rejection); every ``send*`` call returns them too, before its own."""
        out, self._out = self._out, []
        self._last_pong = None
        self._pongs_queued = 0
        return b"".join(out)

    @property
    def should_close_transport(self) -> bool:
        """Whether the I/O layer should close the transport now, after writing
        ``data_to_send()``: a server once the connection is CLOSED (RFC 6455 §7.1.1:
        the server closes TCP first), a client once the server did, or after
        failing. A CLOSED client waits for the server's EOF (with a timeout)."""
        return self.state is _CLOSED and (self._abort or self._eof or not self._client)

    def send(self, event: Event) -> bytes:
        """Sends an event: a message, ``Ping``, ``Pong``, ``CloseConnection``, or
        the role's handshake events. Returns the bytes to write."""
        kind = type(event)
        if kind is TextMessage:
            return self.send_text(event.data, fin=event.message_finished)  # type: ignore[attr-defined]
        if kind is BinaryMessage:
            return self.send_binary(event.data, fin=event.message_finished)  # type: ignore[attr-defined]
        if kind is Ping:
            return self.send_ping(event.payload)  # type: ignore[attr-defined]
        if kind is Pong:
            return self.send_pong(event.payload)  # type: ignore[attr-defined]
        if kind is CloseConnection:
            return self.close(event.code, event.reason)  # type: ignore[attr-defined]
        return self._send_handshake(event)

    def send_message(self, message: Any) -> bytes:
        """A whole message: text for a ``str``, binary for any other bytes-like.
        Returns the frame to write (after anything the connection had queued)."""
        if type(message) is str:
            return self._send_data(_TEXT, message.encode("utf-8"), True)
        return self._send_data(_BINARY, message if type(message) is bytes else bytes(message), True)

    def send_message_parts(self, message: Any) -> Tuple[bytes, bytes]:
        """``send_message`` without copying a large message into its frame: returns
        ``(head, body)``, to write in that order. When the frame is neither masked
        nor compressed (a server's, without permessage-deflate) and the message is
        at least ``LARGE_MESSAGE`` bytes, ``head`` is what the connection had queued
        and the frame header, and ``body`` the message itself (a ``str`` encoded, a
        bytes-like other than ``bytes`` copied); otherwise ``head`` is the whole
        frame and ``body`` is empty."""
        if type(message) is str:
            opcode, payload = _TEXT, message.encode("utf-8")
        else:
            opcode, payload = _BINARY, message if type(message) is bytes else bytes(message)
        if self._client or self._codec is not None or len(payload) < LARGE_MESSAGE:
            return self._send_data(opcode, payload, True), b""
        head = write_frame_header(self._frame_opcode(opcode, True), len(payload), True, False)
        if self._out:
            self._out.append(head)
            head = self.data_to_send()
        return head, payload

    def send_prepared(self, prepared: PreparedMessage) -> bytes:
        """A message framed once for many connections (see ``PreparedMessage``).
        Returns the bytes to write."""
        if self.state is not _OPEN or self._sending is not None:
            self._require_open()
            raise InvalidState(f"a fragmented {self._sending.name.lower()} message is being sent")  # type: ignore[union-attr]
        frame = prepared._frame_for(self._codec, self._next_mask() if self._client else None, core)
        if self._out:
            self._out.append(frame)
            return self.data_to_send()
        return frame

    def send_text(self, data: Union[str, bytes], *, fin: bool = True) -> bytes:
        """A text message, or with ``fin=False`` its first fragments (RFC 6455 §5.4)."""
        if isinstance(data, str):
            payload = data.encode("utf-8")
        elif core.validate_utf8(data):
            payload = bytes(data)
        else:
            raise ValueError("text must be valid UTF-8")
        return self._send_data(_TEXT, payload, fin)

    def send_binary(self, data: Any, *, fin: bool = True) -> bytes:
        """A binary message, or with ``fin=False`` its first fragments."""
        return self._send_data(_BINARY, data if type(data) is bytes else bytes(data), fin)

    def send_ping(self, payload: Any = b"") -> bytes:
        """A ping; the payload is at most 125 bytes (RFC 6455 §5.5.2)."""
        return self._send_control(_PING, bytes(payload))

    def send_pong(self, payload: Any = b"") -> bytes:
        """A pong: an answer to a ping, or unsolicited, a heartbeat (RFC 6455 §5.5.3)."""
        return self._send_control(_PONG, bytes(payload))

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
        """Starts the closing handshake (RFC 6455 §7.1.2); code 1005 sends a close
        frame without a status. Nothing can be sent after it."""
        payload = b"" if code == CloseCode.NO_STATUS_RCVD else core.encode_close(code, reason)
        self.state = next_state(self.state, Happening.SEND_CLOSE)
        self._out.append(self._frame(_CLOSE, payload))
        return self.data_to_send()

    # -- sending --------------------------------------------------------------------

    def _require_open(self) -> None:
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send in state {self.state.value}")

    def _next_mask(self) -> bytes:
        # Each frame gets a fresh random key (RFC 6455 §5.3); keys come from
        # os.urandom in batches, as one call per frame costs more than the frame.
        at = self._mask_at
        if at >= _MASK_POOL:
            self._mask_pool, at = os.urandom(_MASK_POOL), 0
        self._mask_at = at + 4
        return self._mask_pool[at : at + 4]

    def _frame(self, opcode: Opcode, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
        return write_frame(opcode, payload, fin, rsv1, self._next_mask() if self._client else None)

    def _frame_opcode(self, opcode: Opcode, fin: bool) -> Opcode:
        """The opcode of the next data frame of a message of ``opcode`` (raises
        ``InvalidState`` when it cannot be sent now), and the fragment bookkeeping."""
        if self.state is not _OPEN:
            self._require_open()
        sending = self._sending
        if sending is None:
            self._sending = None if fin else opcode
            return opcode
        if sending is not opcode:
            raise InvalidState(f"a fragmented {sending.name.lower()} message is being sent")
        if fin:
            self._sending = None
        return _CONTINUATION

    def _send_data(self, opcode: Opcode, payload: bytes, fin: bool) -> bytes:
        frame_opcode = self._frame_opcode(opcode, fin)
        codec = self._codec
        if codec is not None:
            frame = self._frame(frame_opcode, codec.compress(payload, fin), fin, frame_opcode is not _CONTINUATION)
        else:
            frame = self._frame(frame_opcode, payload, fin)
        if self._out:
            self._out.append(frame)
            return self.data_to_send()
        return frame

    def _send_control(self, opcode: Opcode, payload: bytes) -> bytes:
        self._require_open()
        if len(payload) > 125:
            raise ValueError("a control frame's payload is at most 125 bytes (RFC 6455 §5.5)")
        self._out.append(self._frame(opcode, payload))
        return self.data_to_send()

    # -- receiving frames -----------------------------------------------------------

    def _open(self, agreed: Optional[PerMessageDeflate]) -> None:
        """The handshake succeeded: from here on, bytes are frames."""
        if agreed is not None:
            self._codec = DeflateCodec(agreed, self._client)
            self.extensions = (agreed,)
        self._parser = core.FrameParser(
            "client" if self._client else "server", max_frame_size=self.max_message_size, allow_rsv1=agreed is not None
        )
        self.state = next_state(self.state, Happening.ACCEPT)

    def _receive_frames(self, data: Any) -> None:
        try:
            try:
                frames = self._parser.feed(data)
            except ProtocolError as error:
                self._handle_frames(error.frames)  # deliver what came before the error
                if error.close_code == 1009 and self.max_message_size is not None:
                    # The parser's limit is the message's: say so in the user's terms.
                    raise ProtocolError(f"message over max_message_size={self.max_message_size}", 1009) from None
                raise
            self._handle_frames(frames)
            if self._parser is not None:
                self._watch_pending(bool(frames))
        except Exception as error:  # one table turns every failure into a close frame
            if self.state is not _CLOSED:  # unless a close frame came before it
                self._fail(error)

    def _watch_pending(self, completed: bool) -> None:
        """Validates the text of the frame still arriving as it arrives, so that
        invalid UTF-8 fails the connection at once (RFC 6455 §8.1), and refuses a
        fragment that would take the message past its limit from its header."""
        parser = self._parser
        header = parser.pending_header
        if header is None:
            self._watching = False
            return
        if completed or not self._watching:  # a frame not seen before
            self._watching = True
            self._partial_text = False
            self._start_partial(header)
        if self._partial_text:
            chunk = parser.pending_payload(self._validated)
            if chunk:
                self._validator.feed(chunk)
                self._validated += len(chunk)

    def _start_partial(self, header: Any) -> None:
        opcode = header.opcode
        if opcode >= 8:
            return
        if (opcode is _CONTINUATION) is (self._message is None):
            raise ProtocolError("continuation frame without a message" if self._message is None else "new message inside a fragmented one")
        limit = self.max_fragments
        if limit is not None and self._message is not None and self._fragments >= limit:
            raise ProtocolError(f"message in more than max_fragments={limit} fragments", 1009)
        compressed = header.rsv1 or (opcode is _CONTINUATION and self._compressed)
        if compressed:
            return
        limit = self.max_message_size
        if limit is not None and self._size + header.payload_length > limit:
            raise ProtocolError(f"message over max_message_size={limit}", 1009)
        if opcode is _TEXT or (opcode is _CONTINUATION and self._message is _TEXT):
            self._partial_text = True
            self._validated = 0

    def _handle_frames(self, frames: List[Any]) -> None:
        index = 0
        count = len(frames)
        while index < count:
            frame = frames[index]
            index += 1
            opcode = frame.opcode
            if frame.fin and (opcode is _BINARY or opcode is _TEXT) and self._message is None and not frame.rsv1:
                # The common case: a whole message in one uncompressed frame.
                payload = frame.payload
                if opcode is _TEXT:
                    if self._validated:  # its start was validated as it arrived
                        self._validator.feed(payload[self._validated :])
                        self._validator.finish()
                        self._validator.reset()
                        self._validated = 0
                    self._deliver(True, payload)
                else:
                    self._deliver(False, payload)
            elif opcode >= 8:
                self._handle_control(frame)
                if self._parser is None:
                    return  # a close frame ends the input
            elif opcode is _CONTINUATION and not frame.fin and not self._compressed:
                index = self._take_run(frames, index - 1)
                continue
            else:
                self._handle_fragment(frame, opcode)

    def _deliver(self, text: bool, payload: bytes) -> None:
        """A whole message: to ``on_message``, or out as an event. Text is checked
        by the decoder alone (strict UTF-8, as RFC 3629 and RFC 6455 §8.1 want),
        not validated and then decoded."""
        data: Any = payload
        if text:
            try:
                data = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError("invalid UTF-8 in a text message", 1007) from None
        sink = self.on_message
        if sink is not None:
            sink(data, True)
        else:
            self._events.append(_quick_event(TextMessage if text else BinaryMessage, "data", data))

    def _take_run(self, frames: List[Any], start: int) -> int:
        """Takes the run of uncompressed middle fragments at ``frames[start]`` in one
        step (one validation call, one append, one limit check): a flood of tiny
        fragments costs a loop turn each, not a Python method call each. Returns
        the index after the run."""
        if self._message is None:
            raise ProtocolError("continuation frame without a message")
        end = start
        count = len(frames)
        while end < count:
            frame = frames[end]
            if frame.opcode is not _CONTINUATION or frame.fin:
                break
            if frame.rsv1:
                raise ProtocolError("RSV1 set on a continuation frame (RFC 7692 §6.1)")
            end += 1
        run = frames[start:end]
        limit = self.max_fragments
        if limit is not None and self._fragments + len(run) > limit:
            raise ProtocolError(f"message in more than max_fragments={limit} fragments", 1009)
        self._fragments += len(run)
        payload = b"".join([frame.payload for frame in run])
        self._size += len(payload)
        limit = self.max_message_size
        if limit is not None and self._size > limit:
            raise ProtocolError(f"message over max_message_size={limit}", 1009)
        text = self._message is _TEXT
        if text:
            # The run's first frame may have been validated in part as it arrived.
            self._validator.feed(payload[self._validated :] if self._validated else payload)
        self._validated = 0
        if self.stream_messages:
            if payload:  # the run comes out as one piece
                self._piece(text, payload, False)
        else:
            self._assembled += payload
        return end

    def _piece(self, text: bool, payload: bytes, fin: bool) -> None:
        """A piece of a fragmented message, with ``stream_messages``."""
        data: Any = self._text_decoder.decode(payload, fin) if text else payload
        sink = self.on_message
        if sink is not None:
            sink(data, fin)
        elif text:
            self._events.append(TextMessage(data, fin))
        else:
            self._events.append(BinaryMessage(data, fin))

    def _handle_fragment(self, frame: Any, opcode: Opcode) -> None:
        if opcode is _CONTINUATION:
            if self._message is None:
                raise ProtocolError("continuation frame without a message")
            if frame.rsv1:
                raise ProtocolError("RSV1 set on a continuation frame (RFC 7692 §6.1)")
        else:
            if self._message is not None:
                raise ProtocolError("new message inside a fragmented one")
            self._message, self._compressed, self._size, self._fragments = opcode, frame.rsv1, 0, 0
            if opcode is _TEXT and self.stream_messages:
                self._text_decoder = _Utf8Decoder()
        fin = frame.fin
        payload = frame.payload
        self._fragments += 1
        limit = self.max_fragments
        if limit is not None and self._fragments > limit:
            raise ProtocolError(f"message in more than max_fragments={limit} fragments", 1009)
        limit = self.max_message_size
        if self._compressed:
            payload = self._codec.decompress(payload, fin, None if limit is None else limit - self._size)  # type: ignore[union-attr]
        self._size += len(payload)
        if limit is not None and self._size > limit:
            raise ProtocolError(f"message over max_message_size={limit}", 1009)
        text = self._message is _TEXT
        if text:
            validator = self._validator
            validator.feed(payload[self._validated :] if self._validated else payload)
            self._validated = 0
            if fin:
                validator.finish()
                validator.reset()
        # Empty fragments add nothing: an event for each would let a message of
        # endless 0-byte continuations grow memory without reaching max_message_size.
        if self.stream_messages:
            if payload or fin:
                self._piece(text, payload, fin)
        else:
            self._assembled += payload
            if fin:
                whole = bytes(self._assembled)
                self._assembled = bytearray()
                self._deliver(text, whole)
        if fin:
            self._message = None
            self._text_decoder = None

    def _handle_control(self, frame: Any) -> None:
        if frame.rsv1:
            raise ProtocolError("RSV1 set on a control frame (RFC 7692 §6.1)")
        opcode, payload = frame.opcode, frame.payload
        if opcode is _PING:
            if self.auto_pong and self.state is _OPEN:
                pong = self._frame(_PONG, payload)
                out = self._out
                if self._pongs_queued >= _PONGS_QUEUED and out and out[-1] is self._last_pong:
                    # Past a few, pings not answered yet share one pong, for the
                    # latest (RFC 6455 §5.5.3): a flood of them cannot pile up pongs.
                    out[-1] = pong
                else:
                    out.append(pong)
                    self._pongs_queued += 1
                self._last_pong = pong
            if self.report_pings:
                self._events.append(_quick_event(Ping, "payload", payload))
        elif opcode is _PONG:
            self._events.append(_quick_event(Pong, "payload", payload))
        else:
            code, reason = core.parse_close(payload)
            self.close_code, self.close_reason = code, reason
            self._events.append(CloseConnection(code, reason))
            if self.state is _OPEN:  # echo it (RFC 6455 §5.5.1)
                echo = b"" if code == CloseCode.NO_STATUS_RCVD else core.encode_close(code)
                self._out.append(self._frame(_CLOSE, echo))
            self._end(Happening.RECEIVE_CLOSE)

    def _fail(self, error: BaseException) -> None:
        """Fails the connection (RFC 6455 §7.1.7): a close frame with the code the
        error maps to, when none was sent yet, then CLOSED."""
        code, public, detail = close_for(error)
        self._events.append(ConnectionFailed(code, detail))
        if self.state is _OPEN:
            close = self._frame(_CLOSE, core.encode_close(code, public))
            if self.hold_failure:
                self._held_close = close
                self._parser = None  # input ends here; sending goes on until fail()
                self._message = None
                self._assembled = bytearray()
                return
            self._out.append(close)
        self._abort = True
        self._end(Happening.FAIL)

    def _end(self, happening: Happening) -> None:
        self.state = next_state(self.state, happening)
        if self.state is _CLOSED:
            self._parser = None
            self._assembled = bytearray()
            self._codec = None

    # -- the opening handshake: role-specific ---------------------------------------

    def _take_head(self, data: Any) -> Any:
        """The handshake head, once it has arrived; raises ``HandshakeError``."""
        self._handshake_buffer += data
        return parse_head(self._handshake_buffer, max_size=self._max_head_size, max_headers=self._max_headers)

    def _rest(self, head: Any) -> bytes:
        rest = bytes(self._handshake_buffer[head[2] :])
        self._handshake_buffer = bytearray()
        return rest

    def _receive_handshake(self, data: Any) -> None:
        raise NotImplementedError

    def _send_handshake(self, event: Event) -> bytes:
        raise TypeError(f"{type(self).__name__} cannot send {type(event).__name__}")

    def _handshake_eof(self) -> Event:
        self._abort = True
        return HandshakeFailed("the transport ended during the opening handshake")


class ClientConnection(Connection):
    """The client's end. Start with ``send(Request(host=..., target=...))``; the
    server's answer arrives as ``AcceptConnection`` or ``RejectConnection``.

    >>> client = ClientConnection()
    >>> wire = client.send(Request(host="example.com", target="/chat"))
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(True, **options)
        self._request: Optional[Request] = None
        self._key = ""
        self._reject: Optional[RejectConnection] = None  # a refusal whose body is arriving
        self._body_length: Optional[int] = None

    def _send_handshake(self, event: Event) -> bytes:
        if type(event) is not Request:
            return super()._send_handshake(event)
        if self._request is not None or self.state is not _CONNECTING:
            raise InvalidState("the request was sent already")
        self._key = _handshake.make_key()
        wire = _handshake.build_request(event, self._key)
        self._request = event
        return wire

    def _receive_handshake(self, data: Any) -> None:
        if self._request is None:
            raise InvalidState("send the Request before receiving")
        if self._reject is not None:
            self._handshake_buffer += data
            self._finish_reject(False)
            return
        try:
            head = self._take_head(data)
            if head is None:
                return
            status = _handshake.response_status(head)
            if status != 101:
                self._reject = RejectConnection(status, head[1])
                length = header_values(head[1], "Content-Length")
                # isascii: str.isdigit() also accepts digits like "²" that int() refuses
                self._body_length = int(length[0]) if length and length[0].isascii() and length[0].isdigit() else None
                self._handshake_buffer = bytearray(self._rest(head))
                self._finish_reject(False)
                return
            accept = _handshake.check_response(head, self._key, self._request)
        except HandshakeError as error:
            self._abort = True
            self._events.append(HandshakeFailed(str(error)))
            self._end(Happening.FAIL)
            return
        self.subprotocol = accept.subprotocol
        self._open(accept.extensions[0] if accept.extensions else None)
        self._events.append(accept)
        rest = self._rest(head)
        if rest:
            self._receive_frames(rest)

    def _finish_reject(self, eof: bool) -> None:
        body = self._handshake_buffer
        limit = self.max_message_size
        wanted = self._body_length
        if wanted is not None and len(body) >= wanted:
            body = body[:wanted]
        elif limit is not None and len(body) > limit:
            body = body[:limit]  # keep what fits; the rest is not ours to hold
        elif not eof:
            return
        self._events.append(RejectConnection(self._reject.status_code, self._reject.headers, bytes(body)))  # type: ignore[union-attr]
        self._handshake_buffer = bytearray()
        self._abort = True
        self._end(Happening.REJECT)

    def _handshake_eof(self) -> Event:
        if self._reject is not None:
            self._finish_reject(True)
            return self._events.pop()
        return super()._handshake_eof()


class ServerConnection(Connection):
    """The server's end. Feed it the client's request: a ``Request`` event comes
    out; answer with ``send(AcceptConnection(...))`` or ``send(RejectConnection(...))``.
    A malformed request gets its 400-class answer in ``data_to_send()`` and a
    ``HandshakeFailed`` event.
    """

    def __init__(self, *, plain_http: bool = False, **options: Any) -> None:
        super().__init__(False, **options)
        #: Whether a request without ``Upgrade: websocket`` comes out as an
        #: ``HttpRequest`` event (answered with ``RejectConnection``) instead of a 426.
        self.plain_http = plain_http
        self._request: Optional[Union[Request, HttpRequest]] = None

    def _receive_handshake(self, data: Any) -> None:
        if self._request is not None:
            # The client sent frames before our answer: keep them for after it.
            self._handshake_buffer += data
            if len(self._handshake_buffer) > self._max_head_size:
                self._refuse(HandshakeError("data before the handshake's answer"))
            return
        try:
            head = self._take_head(data)
            if head is None:
                return
            if self.plain_http and not _handshake.is_upgrade(head):
                method, target = parse_request_line(head[0])
                self._request = HttpRequest(method, target, head[1])
                self._handshake_buffer = bytearray()
                self._events.append(self._request)
                return
            self._request = _handshake.check_request(head)
        except HandshakeError as error:
            self._refuse(error)
            return
        self._handshake_buffer = bytearray(self._rest(head))  # frames sent early
        self._events.append(self._request)

    def _refuse(self, error: HandshakeError) -> None:
        body = f"Failed to open a WebSocket connection: {error}.\n".encode("utf-8", "replace")
        self._out.append(
            _handshake.build_reject(RejectConnection(error.status_code, (("Content-Type", "text/plain; charset=utf-8"),), body))
        )
        self._events.append(HandshakeFailed(str(error), error.status_code))
        self._abort = True
        self._end(Happening.FAIL)

    def _send_handshake(self, event: Event) -> bytes:
        kind = type(event)
        if kind is not AcceptConnection and kind is not RejectConnection:
            return super()._send_handshake(event)
        if self._request is None or self.state is not _CONNECTING or (kind is AcceptConnection and type(self._request) is HttpRequest):
            raise InvalidState(f"cannot send {kind.__name__} now")
        if kind is RejectConnection:
            if type(self._request) is HttpRequest and self._request.method == "HEAD":
                event = RejectConnection(event.status_code, event.headers)  # type: ignore[attr-defined]
            self._out.append(_handshake.build_reject(event))  # type: ignore[arg-type]
            self._abort = True
            self._end(Happening.REJECT)
            return self.data_to_send()
        wire, agreed = _handshake.build_accept(self._request, event)  # type: ignore[arg-type]
        self.subprotocol = event.subprotocol  # type: ignore[attr-defined]
        self._out.append(wire)
        self._open(agreed)
        early = bytes(self._handshake_buffer)
        self._handshake_buffer = bytearray()
        if early:
            self._receive_frames(early)
        return self.data_to_send()
