"""fastws.protocol._state: the state table."""

from __future__ import annotations

import pytest

from fastws.protocol import ConnectionState as S, InvalidState
from fastws.protocol._state import Happening as H, next_state

ALLOWED = {
    (S.CONNECTING, H.ACCEPT): S.OPEN, (S.CONNECTING, H.REJECT): S.CLOSED, (S.CONNECTING, H.FAIL): S.CLOSED,
    (S.CONNECTING, H.EOF): S.CLOSED, (S.OPEN, H.SEND_CLOSE): S.CLOSING, (S.OPEN, H.RECEIVE_CLOSE): S.CLOSED,
    (S.OPEN, H.FAIL): S.CLOSED, (S.OPEN, H.EOF): S.CLOSED, (S.CLOSING, H.RECEIVE_CLOSE): S.CLOSED,
    (S.CLOSING, H.FAIL): S.CLOSED, (S.CLOSING, H.EOF): S.CLOSED, (S.CLOSED, H.EOF): S.CLOSED,
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("happening", list(H))
def test_every_transition(impl, state, happening):
    if (state, happening) in ALLOWED:
        assert next_state(state, happening) is ALLOWED[state, happening]
    else:
        with pytest.raises(InvalidState):
            next_state(state, happening)
