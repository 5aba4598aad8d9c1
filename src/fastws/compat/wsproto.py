"""wsproto on fastws: ``install()`` replaces wsproto's framing hot paths, ``uninstall()``
puts them back.

wsproto (1.x) looks these up at call time, so replacing them accelerates every
connection, existing ones included:

- ``frame_protocol.XorMaskerSimple``: masking with fastws' kernels.
- ``FrameDecoder.process_buffer``: a whole frame that is already buffered is parsed by
  ``fastws.parse_header`` and unmasked in one call, without wsproto's per-frame
  objects. Anything else (a partial header or payload, an error, a negotiated
  extension) goes to wsproto's own code, so wsproto keeps its exact errors.
- ``MessageDecoder.process_frame``: a text message in one frame is decoded in one
  call instead of through a new incremental decoder (CPython's decoder validates
  UTF-8 while it builds the ``str`` that wsproto returns, so there is no separate
  validation pass to replace); fragmented messages and errors go to wsproto's code.
- ``FrameProtocol._serialize_frame``: ``fastws.encode_frame`` builds (and masks) each
  frame, unless an extension has to transform it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

import fastws
from fastws import ProtocolError

from ._patch import Patches

__all__ = ["XorMaskerSimple", "install", "installed", "uninstall"]

# The fastws API that the adapter calls: tests swap in either implementation.
_fastws: Any = fastws

_patches = Patches()
_original: Dict[str, Any] = {}
# wsproto's own types, bound by install().
_Frame: Any = None
_opcodes: Dict[int, Any] = {}
_TEXT: Any = None
_BINARY: Any = None


class XorMaskerSimple:
    """wsproto's masker: ``process`` returns a new bytearray and continues the key."""

    __slots__ = ("_masking_key",)

    def __init__(self, masking_key: Any) -> None:
        self._masking_key = masking_key

    def process(self, data: Any) -> bytearray:
        masked = bytearray(data)
        if masked:
            key = self._masking_key
            _fastws.apply_mask_into(masked, key)
            rotation = len(masked) & 3
            self._masking_key = key[rotation:] + key[:rotation]
        return masked


def _whole_frame(decoder: Any) -> Optional[Any]:
    """The frame at the head of the decoder's buffer if it is all there and breaks no
    rule; else None, for wsproto's own code to decide."""
    buffer = decoder.buffer
    data = buffer.buffer
    start = buffer.bytes_used
    try:
        header = _fastws.parse_header(data, start)
    except ProtocolError:
        return None
    if header is None or header.rsv1 or header.rsv2 or header.rsv3 or header.masked == decoder.client:
        return None
    length = header.payload_length
    begin = start + header.header_length
    end = begin + length
    extended = begin - start - (4 if header.masked else 0) - 2
    # wsproto refuses a length in more bytes than needed; its own code says so.
    if end > len(data) or (extended == 2 and length < 126) or (extended == 8 and length < 0x10000):
        return None
    if length:
        view = memoryview(data)
        try:
            chunk = view[begin:end]
            payload = _fastws.apply_mask(chunk, header.mask) if header.masked else bytes(chunk)
            chunk.release()
        finally:
            view.release()
    else:
        payload = b""
    del data[:end]
    buffer.bytes_used = 0
    opcode = _opcodes[header.opcode]
    decoder.payload_required = length if opcode >= 8 else 0
    decoder.payload_consumed = length
    return _Frame(opcode, payload, True, header.fin)


def _process_buffer(self: Any) -> Any:
    if self.header is None and not self.extensions:
        frame = _whole_frame(self)
        if frame is not None:
            return frame
    return _original["process_buffer"](self)


def _process_frame(self: Any, frame: Any) -> Any:
    if self.opcode is None and frame.frame_finished and frame.message_finished and type(frame.payload) is bytes:
        opcode = frame.opcode
        if opcode is _BINARY:
            return frame
        if opcode is _TEXT:
            try:
                return _Frame(opcode, str(frame.payload, "utf-8"), True, True)
            except UnicodeDecodeError:
                pass  # wsproto's code raises its own error
    return _original["process_frame"](self, frame)


def _serialize_frame(self: Any, opcode: Any, payload: Any = b"", fin: bool = True) -> bytearray:
    kind = type(payload)
    if not self.extensions and (kind is bytes or kind is bytearray) and (opcode < 8 or len(payload) <= 125):
        mask = os.urandom(4) if self.client else None
        return bytearray(_fastws.encode_frame(opcode, payload, fin=fin, mask=mask))
    return _original["_serialize_frame"](self, opcode, payload, fin)  # type: ignore[no-any-return]


def install() -> bool:
    """Accelerates wsproto; False if it already was."""
    global _Frame, _TEXT, _BINARY
    if _patches:
        return False
    from wsproto import frame_protocol

    _Frame = frame_protocol.Frame
    _opcodes.update({int(opcode): opcode for opcode in frame_protocol.Opcode})
    _TEXT, _BINARY = frame_protocol.Opcode.TEXT, frame_protocol.Opcode.BINARY
    _patches.set(frame_protocol, "XorMaskerSimple", XorMaskerSimple)
    for owner, name, replacement in (
        (frame_protocol.FrameDecoder, "process_buffer", _process_buffer),
        (frame_protocol.MessageDecoder, "process_frame", _process_frame),
        (frame_protocol.FrameProtocol, "_serialize_frame", _serialize_frame),
    ):
        _original[name] = _patches.set(owner, name, replacement)
    return True


def uninstall() -> bool:
    """Puts wsproto's own code back; False if the adapter was not installed."""
    _original.clear()
    return _patches.undo()


def installed() -> bool:
    """Whether wsproto runs on fastws."""
    return bool(_patches)
