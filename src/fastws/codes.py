"""Opcodes and close codes of RFC 6455, shared by both implementations."""

from __future__ import annotations

import enum
from typing import Optional, Tuple, Union

__all__ = ["Opcode", "CloseCode", "DEFAULT_MAX_FRAME_SIZE", "is_sendable_close_code"]

#: Default ``FrameParser(max_frame_size=...)``: large enough for ordinary traffic,
#: small enough that a connection cannot make us buffer more than this per frame.
DEFAULT_MAX_FRAME_SIZE = 2**20


class Opcode(enum.IntEnum):
    """RFC 6455 §5.2 frame opcodes; 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        return self >= 0x8


#: Opcode member per 4-bit value, None where reserved: the parsers' lookup table,
#: cheaper than ``Opcode(value)`` on a hot path.
OPCODE_TABLE: Tuple[Optional[Opcode], ...] = tuple(Opcode(value) if value in Opcode._value2member_map_ else None for value in range(16))


class CloseCode(enum.IntEnum):
    """RFC 6455 §7.4.1 status codes, plus the IANA-registered 1012-1014."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005  # never on the wire: "the close frame had no payload"
    ABNORMAL_CLOSURE = 1006  # never on the wire: "the connection dropped"
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never on the wire


def is_sendable_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 §7.4.1-7.4.2).

    1000-1003 and 1007-1014 are defined or registered; 3000-3999 are registered
    with IANA and 4000-4999 are private. Everything else, including 1004-1006,
    1015 and the unassigned 1016-2999, must not be sent.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_code_or_int(code: int) -> Union[CloseCode, int]:
    """The CloseCode member for ``code`` when there is one, else ``code`` itself."""
    member = CloseCode._value2member_map_.get(code)
    return code if member is None else member  # type: ignore[return-value]
