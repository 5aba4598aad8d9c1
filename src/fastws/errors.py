"""Exceptions raised by fastws, shared by the Cython and pure-Python implementations.

Every error that stems from what the peer sent carries the RFC 6455 §7.4.1 close code
to answer it with, so a protocol layer can turn any of them into a close frame.
"""

from __future__ import annotations

from typing import Any, List, Sequence

__all__ = ["WebSocketError", "ProtocolError", "InvalidUtf8"]


class WebSocketError(Exception):
    """Base class of every fastws exception."""


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455; close the connection with ``close_code``.

    ``frames`` holds the frames that the same ``FrameParser.feed`` call completed
    before the violation, in order, so that nothing already received is lost.
    """

    close_code: int
    frames: List[Any]

    def __init__(self, message: str, close_code: int = 1002, frames: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.frames = list(frames)


class InvalidUtf8(ProtocolError):
    """Text that is not strict UTF-8 (RFC 3629); close code 1007.

    ``position`` is the absolute offset, across every chunk fed, of the byte that made
    the input invalid, or the total length when the text ended inside a character.
    """

    position: int

    def __init__(self, position: int, message: str = "") -> None:
        super().__init__(message or f"invalid UTF-8 at byte {position}", 1007)
        self.position = position
