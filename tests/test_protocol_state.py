"""fastws.protocol._state: the state table, checked against RFC 6455's rules
(each rule below comes from the RFC, not from the table), so a wrong entry fails."""

from __future__ import annotations

from typing import Optional

import pytest

from fastws.protocol import ConnectionState as S
from fastws.protocol import InvalidState
from fastws.protocol._state import Happening as H
from fastws.protocol._state import next_state


def by_the_rfc(state: S, happening: H) -> Optional[S]:
    """Where RFC 6455 says a connection goes, or None where nothing may happen."""
    if happening is H.EOF:
        return S.CLOSED  # the transport ended: every state ends (§7.1.5)
    if state is S.CLOSED:
        return None  # nothing but the transport's end happens after CLOSED
    if happening is H.FAIL:
        return S.CLOSED  # failing closes at once, without waiting for the peer (§7.1.7)
    if state is S.CONNECTING:
        # The handshake is answered once: 101 opens, anything else ends (§4.1, §4.2.2).
        return {H.ACCEPT: S.OPEN, H.REJECT: S.CLOSED}.get(happening)
    if happening is H.RECEIVE_CLOSE:
        # A received close frame is echoed at once or answers ours: closed (§5.5.1).
        return S.CLOSED
    if happening is H.SEND_CLOSE and state is S.OPEN:
        return S.CLOSING  # one close frame per side (§5.5.1); then wait for the peer's
    return None  # ACCEPT/REJECT after the handshake, a second close frame


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("happening", list(H))
def test_every_transition_follows_the_rfc(state: S, happening: H) -> None:
    expected = by_the_rfc(state, happening)
    if expected is None:
        with pytest.raises(InvalidState):
            next_state(state, happening)
    else:
        assert next_state(state, happening) is expected
