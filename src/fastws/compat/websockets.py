"""websockets on fastws: its sans-IO ``Protocol`` reads and writes frames with fastws.

``install()`` replaces, on the websockets versions in ``SUPPORTED``:

- ``Protocol.parse``, the generator that turns received bytes into frames, which every
  websockets implementation (asyncio, sync, Trio, and uvicorn's ``websockets-sansio``)
  drives through ``receive_data``/``receive_eof``. The replacement hands what arrived
  to one ``fastws.FrameParser`` in bulk and gives websockets' own ``Frame`` objects,
  decoded by its extensions and checked as before, to its own ``recv_frame``. Every
  error goes through websockets' own handling: a frame fastws refuses, an unfinished
  frame at EOF and EOF itself are handed back, as bytes, to websockets' original parser,
  which raises exactly what it always raised; errors found while delivering frames
  (``PayloadTooBig``, extensions, ``recv_frame``) are thrown into that parser's handler.
  The ``max_size`` limits are checked per frame, from each frame's header, in the same
  order as websockets does.
- ``Frame.serialize``, with ``fastws.encode_frame`` (same checks, extensions and mask
  keys from ``secrets.token_bytes``).
- ``apply_mask``, wherever websockets binds it (also the legacy implementation's).

UTF-8 is left to websockets: it validates text only while decoding it to ``str``
(``bytes.decode``), which a separate validation pass could only slow down.

On any other version only ``apply_mask`` is replaced and ``status()`` says why.
``install()`` and ``uninstall()`` take effect for connections opened afterwards: a
connection keeps the parser it started with.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from typing import Any, Dict, Generator, List, Optional, Tuple

import fastws

from ._patch import Patches

__all__ = ["SUPPORTED", "install", "installed", "replaced", "status", "uninstall"]

#: The websockets releases whose ``Protocol.parse`` and ``Frame.serialize`` the adapter
#: replaces: each passes websockets' own test suite with the adapter installed.
SUPPORTED: Tuple[str, ...] = ("16.1.1", "17.0.1", "17.4")

# The fastws API that the adapter calls: tests swap in either implementation.
_fastws: Any = fastws

_patches = Patches()
_bound: Any = None  # the installed apply_mask, and where websockets imports it from
_source: Any = None
_replaced: List[str] = []
_why = ""


def install() -> bool:
    """Accelerates websockets; False if it already was."""
    global _bound, _source, _why
    if _patches:
        return False
    import websockets.frames
    import websockets.version

    try:
        source: Any = importlib.import_module("websockets.speedups")
    except ImportError:
        source = importlib.import_module("websockets.utils")
    version = websockets.version.version
    try:
        _bound, _source = _fastws.apply_mask, source
        for owner in (source, websockets.frames, sys.modules.get("websockets.legacy.framing")):
            if owner is not None:
                _patches.set(owner, "apply_mask", _bound)
        _replaced[:] = ["apply_mask"]
        if version in SUPPORTED:
            _install_framing()
            _why = ""
        else:
            _why = (
                f"websockets {version} is not one of the versions the adapter knows ({', '.join(SUPPORTED)}): only apply_mask is replaced"
            )
    except BaseException:
        _patches.undo()
        _replaced.clear()
        raise
    return True


def uninstall() -> bool:
    """Puts websockets' own code back; False if the adapter was not installed."""
    if not _patches.undo():
        return False
    _replaced.clear()
    # websockets.legacy.framing imported while installed bound fastws' itself.
    framing: Any = sys.modules.get("websockets.legacy.framing")
    if framing is not None and framing.apply_mask is _bound:
        framing.apply_mask = _source.apply_mask
    return True


def installed() -> bool:
    """Whether websockets runs on fastws."""
    return bool(_patches)


def replaced() -> List[str]:
    """What of websockets runs on fastws now (empty when not installed)."""
    return list(_replaced)


def status() -> str:
    """One line for ``fastws.compat.status()``."""
    if not _patches:
        return "own code"
    return f"fastws ({', '.join(_replaced)}{'; ' + _why if _why else ''})"


# -- frames in -------------------------------------------------------------------------


def _install_framing() -> None:
    from websockets.exceptions import PayloadTooBig
    from websockets.frames import Frame, Opcode
    from websockets.protocol import SERVER, Protocol

    original_parse = Protocol.parse
    original_serialize = Frame.serialize
    opcodes: Dict[int, Any] = {int(opcode): opcode for opcode in Opcode}
    CLOSE = Opcode.CLOSE
    new_frame = Frame

    def throw(self: Any, error: BaseException) -> Generator[None, None, None]:
        # websockets' own parser, suspended inside its error handler's scope (waiting
        # for data), handles ``error`` exactly as if it had raised it.
        reader = self.reader
        saved = reader.buffer, reader.eof
        reader.buffer, reader.eof = bytearray(), False
        original = original_parse(self)
        next(original)
        reader.buffer, reader.eof = saved
        original.throw(error)
        yield
        yield from original  # raises what websockets raises if stepped after an error

    def limit(self: Any) -> Optional[int]:
        # The payload limit of the next frame, as websockets computes it.
        max_size: Optional[int] = self.max_message_size
        if max_size is not None and self.current_size is not None:
            max_size -= self.current_size
        fragment = self.max_fragment_size
        if fragment is not None:
            max_size = fragment if max_size is None else min(max_size, fragment)
        return max_size

    def frames(self: Any) -> Generator[None, None, bool]:
        """Delivers frames until websockets' parser must take over (True: the bytes it
        needs are back in the reader) or a close frame ends parsing (False)."""
        reader = self.reader
        masked = self.side is SERVER
        parser = _fastws.FrameParser("server" if masked else "client", max_frame_size=None, allow_rsv1=True)
        carry = b""  # the bytes of an unfinished header
        while True:
            chunk = reader.buffer
            if not chunk:
                if reader.eof:
                    reader.buffer = bytearray(_unfinished(parser, carry, masked))
                    return True
                yield
                continue
            reader.buffer = bytearray()
            before, before_carry = parser.buffered, carry
            pending = parser.pending_header if before else None
            refused = None
            try:
                batch = parser.feed(chunk)
            except _fastws.ProtocolError as error:
                batch, refused = error.frames, error
            for frame in batch:
                data = frame.payload
                max_size = limit(self)
                if max_size is not None and len(data) > max_size:
                    raise PayloadTooBig(len(data), max_size)
                out = new_frame(opcodes[frame.opcode], data, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3)
                if self.extensions:
                    for extension in reversed(self.extensions):
                        out = extension.decode(out, max_size=max_size)
                    out.check()
                elif out.rsv1:
                    out.check()
                if self.debug:
                    self.logger.debug("< %s", out)
                self.recv_frame(out)
                if out.opcode is CLOSE:
                    return False
            if refused is not None:
                # websockets parses the refused frame itself: same error, or a frame
                # that one of its extensions accepts (then it parses the rest too).
                reader.buffer = bytearray(_refused_onward(chunk, before_carry, pending, before, len(batch), masked))
                return True
            carry = b""
            if parser.buffered:
                header = parser.pending_header
                if header is None:
                    carry = bytes(chunk[-parser.buffered :]) if parser.buffered <= len(chunk) else before_carry + bytes(chunk)
                    length = _declared_length(carry)
                else:
                    length = header.payload_length
                max_size = limit(self)
                if length is not None and max_size is not None and length > max_size:
                    raise PayloadTooBig(length, max_size)

    def parse(self: Any) -> Generator[None, None, None]:
        try:
            handover = yield from frames(self)
        except Exception as error:
            yield from throw(self, error)
            return
        if handover:
            yield from original_parse(self)
        else:
            # websockets' parser after a close frame: discard() has replaced it.
            while True:
                yield

    def serialize(self: Any, *, mask: bool, extensions: Any = None) -> bytes:
        self.check()
        if extensions:
            for extension in extensions:
                self = extension.encode(self)
        key = secrets.token_bytes(4) if mask else None
        try:
            wire: bytes = _fastws.encode_frame(
                self.opcode, self.data, fin=self.fin, rsv1=self.rsv1, rsv2=self.rsv2, rsv3=self.rsv3, mask=key
            )
        except ValueError:
            # A control frame that an extension made invalid: websockets sends it as is.
            wire = _raw_frame(self, key)
        return wire

    parse.__doc__ = original_parse.__doc__
    serialize.__doc__ = original_serialize.__doc__
    _patches.set(Protocol, "parse", parse)
    _patches.set(Frame, "serialize", serialize)
    _replaced.extend(["frame parsing (Protocol.parse)", "frame serialisation (Frame.serialize)"])


def _wire(bits: Any, payload: Any, length: int, code: int, key: Optional[bytes]) -> bytes:
    """A frame as sent: ``bits`` gives FIN, RSV and the opcode, ``code`` the length
    encoding (the length itself, 126 or 127), ``payload`` is unmasked."""
    first = bits.fin << 7 | bits.rsv1 << 6 | bits.rsv2 << 5 | bits.rsv3 << 4 | bits.opcode
    head = bytes([first, (0x80 if key else 0) | code]) + (length.to_bytes(2 if code == 126 else 8, "big") if code > 125 else b"")
    if key is None:
        return head + bytes(payload)
    return head + key + bytes(_fastws.apply_mask(payload, key))


def _raw_frame(frame: Any, key: Optional[bytes]) -> bytes:
    """``frame`` on the wire without any check (what websockets writes for a frame that
    an extension changed after its checks)."""
    length = len(frame.data)
    return _wire(frame, frame.data, length, length if length < 126 else 126 if length < 65536 else 127, key)


def _header_size(data: Any, position: int, masked: bool) -> Tuple[int, int]:
    """(header length, payload length) of the complete header at ``position``."""
    code = data[position + 1] & 0x7F
    if code == 126:
        return 4 + 4 * masked, int.from_bytes(data[position + 2 : position + 4], "big")
    if code == 127:
        return 10 + 4 * masked, int.from_bytes(data[position + 2 : position + 10], "big")
    return 2 + 4 * masked, code


def _declared_length(head: bytes) -> Optional[int]:
    """The payload length an unfinished header declares, once its bytes are here."""
    if len(head) < 2:
        return None
    code = head[1] & 0x7F
    if len(head) < (4 if code == 126 else 10 if code == 127 else 2):
        return None
    return _header_size(head, 0, False)[1]


def _unfinished(parser: Any, carry: bytes, masked: bool) -> bytes:
    """The bytes, as received, of the frame the parser holds unfinished."""
    header = parser.pending_header
    if header is None:
        return carry
    size = header.header_length - 4 * masked
    code = header.payload_length if size == 2 else 126 if size == 4 else 127
    return _wire(header, parser.pending_payload(), header.payload_length, code, header.mask)


def _refused_onward(chunk: Any, carry: bytes, pending: Any, before: int, completed: int, masked: bool) -> bytes:
    """The bytes from the start of the frame FrameParser refused: after the rest of the
    frame that was pending before ``chunk`` and the ``completed`` frames."""
    if pending is not None:
        # The pending frame's header was valid: it is the first completed frame.
        data: Any = chunk
        position = pending.header_length + pending.payload_length - before
        completed -= 1
    else:
        data = carry + bytes(chunk)
        position = 0
    for _ in range(completed):
        header_length, length = _header_size(data, position, masked)
        position += header_length + length
    return bytes(data[position:])
