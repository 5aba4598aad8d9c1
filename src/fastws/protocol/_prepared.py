"""A message framed once for many connections: what a broadcast writes."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ..codes import Opcode
from ._deflate import DeflateCodec

__all__ = ["PreparedMessage"]


class PreparedMessage:
    """A message (``str`` for text, bytes-like for binary) to send to many
    connections with ``Connection.send_prepared``: its frames are made once and the
    same bytes serve every connection that can take them.

    - Servers without compression share one frame.
    - Compressed server connections that reset their compressor after each message
      (``server_no_context_takeover``) with the same window and level share one
      compressed frame (RFC 7692 §7.1.1.1: each message then compresses alone).
    - A connection that keeps its compression context gets the message uncompressed:
      compressing it would need that connection's own context, and RFC 7692 §6.1
      lets any message go uncompressed (RSV1 clear).
    - Clients mask every frame with a fresh key, so only the payload is shared.
    """

    __slots__ = ("opcode", "payload", "_payloads", "_frames")

    def __init__(self, message: Any) -> None:
        if type(message) is str:
            self.opcode, self.payload = Opcode.TEXT, message.encode("utf-8")
        else:
            self.opcode, self.payload = Opcode.BINARY, message if type(message) is bytes else bytes(message)
        self._payloads: Dict[Optional[Tuple[int, int]], bytes] = {}
        self._frames: Dict[Optional[Tuple[int, int]], bytes] = {}

    @property
    def frames_made(self) -> int:
        """How many distinct server frames were made so far (one per compression setting)."""
        return len(self._frames)

    def _frame_for(self, codec: Optional[DeflateCodec], mask: Optional[bytes], core: Any) -> bytes:
        key = None if codec is None else codec.shared_key
        if mask is None:
            frame = self._frames.get(key)
            if frame is None:
                frame = self._frames[key] = core.encode_frame(self.opcode, self._payload_for(key), rsv1=key is not None)
            return frame  # type: ignore[no-any-return]
        return core.encode_frame(self.opcode, self._payload_for(key), rsv1=key is not None, mask=mask)  # type: ignore[no-any-return]

    def _payload_for(self, key: Optional[Tuple[int, int]]) -> bytes:
        if key is None:
            return self.payload
        payload = self._payloads.get(key)
        if payload is None:
            payload = self._payloads[key] = DeflateCodec.compress_alone(self.payload, *key)
        return payload
