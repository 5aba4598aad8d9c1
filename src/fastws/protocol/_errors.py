"""Errors of the protocol layer, and the one table that turns any failure into the
close frame that answers it (RFC 6455 §7.4.1)."""

from __future__ import annotations

import zlib
from typing import Tuple

from ..errors import ProtocolError, WebSocketError

__all__ = ["HandshakeError", "InvalidState", "close_for"]


class InvalidState(WebSocketError):
    """The application asked for something the connection's state forbids (sending
    before the handshake or after a close frame, accepting twice...)."""


class HandshakeError(WebSocketError):
    """An opening handshake that breaks RFC 6455 §4, or an HTTP head that breaks
    RFC 9112; ``status_code`` is the HTTP status a server answers it with."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


#: What the peer reads in the close frame: a fixed text per code, never the
#: local details (they go to the ``ConnectionFailed`` event).
_PUBLIC_REASONS = {
    1002: "protocol error",
    1007: "invalid frame payload data",
    1009: "message too big",
    1011: "internal error",
}


def close_for(error: BaseException) -> Tuple[int, str, str]:
    """``(close code, reason to send, reason to report)`` for a failure.

    The peer's violations carry their code (1002, 1007, 1009); undecodable
    compressed data is a protocol error (RFC 7692 §8); anything else is ours: 1011.
    """
    if isinstance(error, ProtocolError):
        code = error.close_code
    elif isinstance(error, zlib.error):
        code = 1002
    else:
        code = 1011
    detail = str(error) or type(error).__name__
    return code, _PUBLIC_REASONS.get(code, _PUBLIC_REASONS[1011]), detail
