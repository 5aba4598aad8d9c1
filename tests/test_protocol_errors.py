"""fastws.protocol._errors: the table from failures to close frames."""

from __future__ import annotations

import zlib

import pytest

from fastws.errors import InvalidUtf8, ProtocolError
from fastws.protocol._errors import close_for


@pytest.mark.parametrize(
    "error, code, sent",
    [
        (ProtocolError("reserved opcode 0x3"), 1002, "protocol error"),
        (InvalidUtf8(4), 1007, "invalid frame payload data"),
        (ProtocolError("too big", 1009), 1009, "message too big"),
        (zlib.error("invalid stored block lengths"), 1002, "protocol error"),
        (RuntimeError("internal detail"), 1011, "internal error"),
        (KeyError(), 1011, "internal error"),
    ],
)
def test_close_for(impl, error, code, sent):
    found, public, detail = close_for(error)
    assert (found, public) == (code, sent)
    assert detail and len(public.encode()) <= 123
    impl.encode_close(found, public)  # always a valid close frame
