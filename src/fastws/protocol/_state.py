"""The connection state machine (RFC 6455 §4, §7).

Theory of operation
-------------------
A connection lives through four states, the ones RFC 6455 names:

    CONNECTING --accept--> OPEN --send_close--> CLOSING --receive_close--> CLOSED
        |                   |                      |
        +--reject/fail------+--receive_close-------+--fail/eof-------------> CLOSED
                            +--fail/eof----------------------------------> CLOSED

CONNECTING covers the opening handshake. OPEN carries messages both ways. A close
frame *sent* first moves to CLOSING, where the peer may still send data until its
own close frame arrives. A close frame *received* first is echoed at once (RFC 6455
§5.5.1), so it moves straight to CLOSED. Failing the connection (a protocol error,
§7.1.7) sends a close frame and ends at CLOSED without waiting for the peer's. The
end of the transport (EOF) ends every state.

The table below is the whole machine: a happening not listed for a state is a
misuse of the connection (``InvalidState``), checked in one place.
"""

from __future__ import annotations

import enum
from typing import Dict, Tuple

from ._errors import InvalidState

__all__ = ["ConnectionState", "Happening", "next_state"]


class ConnectionState(enum.Enum):
    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


class Happening(enum.Enum):
    ACCEPT = "accept"  # the handshake succeeded (101 sent or received)
    REJECT = "reject"  # the server refused the handshake
    SEND_CLOSE = "send_close"  # this side sent a close frame first
    RECEIVE_CLOSE = "receive_close"  # the peer's close frame arrived
    FAIL = "fail"  # this side failed the connection
    EOF = "eof"  # the transport ended


_S, _H = ConnectionState, Happening

_TRANSITIONS: Dict[Tuple[ConnectionState, Happening], ConnectionState] = {
    (_S.CONNECTING, _H.ACCEPT): _S.OPEN,
    (_S.CONNECTING, _H.REJECT): _S.CLOSED,
    (_S.CONNECTING, _H.FAIL): _S.CLOSED,
    (_S.CONNECTING, _H.EOF): _S.CLOSED,
    (_S.OPEN, _H.SEND_CLOSE): _S.CLOSING,
    (_S.OPEN, _H.RECEIVE_CLOSE): _S.CLOSED,
    (_S.OPEN, _H.FAIL): _S.CLOSED,
    (_S.OPEN, _H.EOF): _S.CLOSED,
    (_S.CLOSING, _H.RECEIVE_CLOSE): _S.CLOSED,
    (_S.CLOSING, _H.FAIL): _S.CLOSED,
    (_S.CLOSING, _H.EOF): _S.CLOSED,
    (_S.CLOSED, _H.EOF): _S.CLOSED,
}


def next_state(state: ConnectionState, happening: Happening) -> ConnectionState:
    """The state after ``happening``; raises ``InvalidState`` where the table has none."""
    try:
        return _TRANSITIONS[state, happening]
    except KeyError:
        raise InvalidState(f"cannot {happening.value} in state {state.value}") from None
