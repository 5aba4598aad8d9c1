"""permessage-deflate (RFC 7692): negotiation in both roles, and the per-message
compressor and decompressor, with a bound on what a message may expand to."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple, Union

from ..errors import ProtocolError
from ._errors import HandshakeError

__all__ = ["PerMessageDeflate", "DeflateCodec"]

NAME = "permessage-deflate"
_TAIL = b"\x00\x00\xff\xff"  # what RFC 7692 §7.2.1 strips from each message
_FLAGS = ("server_no_context_takeover", "client_no_context_takeover")
_BITS = ("server_max_window_bits", "client_max_window_bits")
_WINDOW_BITS = range(8, 16)  # what RFC 7692 §7.1.2 allows on the wire

Params = Sequence[Tuple[str, Optional[str]]]


def _bits(value: Optional[str]) -> int:
    # RFC 7692 §7.1.2.1: 1*DIGIT, 8 to 15; reject "010" and friends.
    if value is None or not value.isdigit() or value[0] == "0" or int(value) not in _WINDOW_BITS:
        raise ValueError(f"bad window bits {value!r}")
    return int(value)


def _read_params(params: Params) -> Dict[str, Union[bool, int]]:
    """The parameters of one offer or response; ValueError for an unknown or
    repeated one or a bad value (RFC 7692 §7.1)."""
    found: Dict[str, Union[bool, int]] = {}
    for name, value in params:
        if name in found:
            raise ValueError(f"repeated parameter {name}")
        if name in _FLAGS:
            if value is not None:
                raise ValueError(f"{name} takes no value")
            found[name] = True
        elif name == "server_max_window_bits":
            found[name] = _bits(value)
        elif name == "client_max_window_bits":
            found[name] = True if value is None else _bits(value)
        else:
            raise ValueError(f"unknown parameter {name}")
    return found


@dataclass(frozen=True)
class PerMessageDeflate:
    """permessage-deflate settings (RFC 7692 §7).

    Give one to ``Request.extensions`` (a client's offer) or to
    ``AcceptConnection.extensions`` (what a server accepts); the connection reports
    the agreed parameters in the same type. Window bits are 9 to 15 (zlib cannot
    compress with 8) or None for the default, 15; ``compression_level`` and
    ``mem_level`` are zlib's.

    Memory per connection, once each direction has carried a message: the
    compressor holds ``2**(bits + 2) + 2**(mem_level + 9)`` bytes (our window bits),
    the decompressor ``2**bits`` (the peer's) plus about 7 KiB of zlib state. zlib's
    defaults (15 bits, memLevel 8) make that about 300 KiB; 12 bits and memLevel 5
    make it about 45 KiB.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: Optional[int] = None
    client_max_window_bits: Optional[int] = None
    compression_level: int = 6
    mem_level: int = 8

    def __post_init__(self) -> None:
        for name in _BITS:
            bits = getattr(self, name)
            if bits is not None and bits not in range(9, 16):
                raise ValueError(f"{name} must be 9 to 15 or None, not {bits!r}")
        if self.compression_level not in range(-1, 10):
            raise ValueError("compression_level must be -1 to 9")
        if self.mem_level not in range(1, 10):
            raise ValueError("mem_level must be 1 to 9")

    # -- the client's side -----------------------------------------------------------

    def offer(self) -> str:
        """The ``Sec-WebSocket-Extensions`` element a client sends. It always offers
        ``client_max_window_bits``, so that a server may ask for a smaller window."""
        parts = [NAME] + [name for name in _FLAGS if getattr(self, name)]
        if self.server_max_window_bits is not None:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        bits = self.client_max_window_bits
        parts.append("client_max_window_bits" if bits is None else f"client_max_window_bits={bits}")
        return "; ".join(parts)

    def accept_response(self, params: Params) -> PerMessageDeflate:
        """The agreed settings from a server's response to ``offer()``; raises
        ``HandshakeError`` when the response is not a valid answer to it."""
        try:
            found = _read_params(params)
        except ValueError as error:
            raise HandshakeError(f"{NAME} response: {error}") from None
        if self.server_no_context_takeover and "server_no_context_takeover" not in found:
            raise HandshakeError(f"{NAME} response ignores server_no_context_takeover")
        server_bits = found.get("server_max_window_bits")
        if self.server_max_window_bits is not None and (server_bits is None or server_bits > self.server_max_window_bits):
            raise HandshakeError(f"{NAME} response ignores server_max_window_bits")
        client_bits = found.get("client_max_window_bits", self.client_max_window_bits)
        if client_bits is True or (client_bits is not None and client_bits < 9):
            raise HandshakeError(f"{NAME} response has a bad client_max_window_bits")
        if client_bits is not None and self.client_max_window_bits is not None and client_bits > self.client_max_window_bits:
            raise HandshakeError(f"{NAME} response raises client_max_window_bits")
        return replace(
            self,
            server_no_context_takeover="server_no_context_takeover" in found,
            client_no_context_takeover=self.client_no_context_takeover or "client_no_context_takeover" in found,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )

    # -- the server's side -----------------------------------------------------------

    def accept_offer(self, params: Params) -> Optional[Tuple[str, PerMessageDeflate]]:
        """``(response element, agreed settings)`` for a client's offer, or None to
        decline it (RFC 7692 §7.1: invalid parameters, or a window we cannot use)."""
        try:
            found = _read_params(params)
        except ValueError:
            return None
        server_bits = self.server_max_window_bits
        offered = found.get("server_max_window_bits")
        if offered is not None:
            server_bits = min(offered, server_bits or 15)
            if server_bits < 9:
                return None
        offered = found.get("client_max_window_bits")
        client_bits = self.client_max_window_bits
        if offered is None:
            if client_bits is not None:
                return None  # we need a smaller window than the client can promise
        elif offered is not True and client_bits is not None:
            client_bits = min(offered, client_bits)
        agreed = replace(
            self,
            server_no_context_takeover=self.server_no_context_takeover or "server_no_context_takeover" in found,
            client_no_context_takeover=self.client_no_context_takeover or "client_no_context_takeover" in found,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )
        parts = [NAME] + [name for name in _FLAGS if getattr(agreed, name)]
        parts += [f"{name}={getattr(agreed, name)}" for name in _BITS if getattr(agreed, name) is not None]
        return "; ".join(parts), agreed


class DeflateCodec:
    """Compresses what one endpoint sends and decompresses what it receives, with
    the agreed settings (RFC 7692 §7.2)."""

    __slots__ = ("_level", "_mem_level", "_bits", "_peer_bits", "_reset_compressor", "_reset_decompressor", "_compressor", "_decompressor")

    def __init__(self, agreed: PerMessageDeflate, client: bool) -> None:
        self._level = agreed.compression_level
        self._mem_level = agreed.mem_level
        if client:
            bits, self._reset_compressor = agreed.client_max_window_bits, agreed.client_no_context_takeover
            peer_bits, self._reset_decompressor = agreed.server_max_window_bits, agreed.server_no_context_takeover
        else:
            bits, self._reset_compressor = agreed.server_max_window_bits, agreed.server_no_context_takeover
            peer_bits, self._reset_decompressor = agreed.client_max_window_bits, agreed.client_no_context_takeover
        self._bits = bits or 15
        self._peer_bits = peer_bits or 15
        self._compressor: Optional["zlib._Compress"] = None
        self._decompressor: Optional["zlib._Decompress"] = None

    @property
    def shared_key(self) -> Optional[Tuple[int, int]]:
        """``(window bits, level)`` when every message this side sends is compressed
        alone (no context takeover), so one compressed payload serves every codec
        with the same key; None when messages depend on the ones before."""
        return (self._bits, self._level) if self._reset_compressor else None

    @staticmethod
    def compress_alone(data: bytes, bits: int, level: int) -> bytes:
        """A whole message's payload compressed with a fresh context (RFC 7692 §7.2.1)."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -bits)
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(_TAIL) else out

    def compress(self, data: bytes, fin: bool) -> bytes:
        """One frame's payload: a fragment of the message ends with a sync flush,
        the message's last one without the flush's 4-byte tail."""
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, -self._bits, self._mem_level)
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            if out.endswith(_TAIL):
                out = out[:-4]
            if self._reset_compressor:
                self._compressor = None
        return out

    def decompress(self, data: bytes, fin: bool, limit: Optional[int]) -> bytes:
        """One frame's payload, decompressed; raises ``ProtocolError`` (1009) before
        the output passes ``limit`` bytes, so memory stays bounded."""
        decompressor = self._decompressor
        if decompressor is None:
            # The window the peer agreed to compress within (RFC 7692 §7.1.2): no
            # larger, as it is memory held for the connection's life.
            decompressor = self._decompressor = zlib.decompressobj(-self._peer_bits)
        if fin:
            data += _TAIL
        if limit is None:
            out = decompressor.decompress(data)
        else:
            out = decompressor.decompress(data, limit + 1)
            if len(out) > limit:
                raise ProtocolError("decompressed message exceeds max_message_size", 1009)
        if fin and (self._reset_decompressor or decompressor.eof):
            self._decompressor = None
        return out
