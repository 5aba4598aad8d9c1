"""The client side of the opening handshake for bench/ load generators that speak
WebSocket over a bare asyncio.Protocol (RFC 6455 §4.1)."""

from __future__ import annotations

import base64
import os
from typing import Optional, Tuple

HOST = "127.0.0.1"


def upgrade_request(path: str = "/", extensions: str = "", host: str = HOST) -> bytes:
    """A GET that asks for a WebSocket, with a fresh key; ``extensions`` is the
    Sec-WebSocket-Extensions value, if any."""
    key = base64.b64encode(os.urandom(16)).decode()
    offer = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    ).encode()


def take_head(buffer: bytearray, data: bytes) -> Optional[Tuple[bytes, bytes]]:
    """Adds ``data`` to the response head being read; once it is whole, ``(head, the
    bytes after it)``, else None."""
    buffer += data
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    return bytes(buffer[:end]), bytes(buffer[end + 4 :])
