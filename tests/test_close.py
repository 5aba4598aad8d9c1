"""encode_close and parse_close (RFC 6455 §5.5.1, §7.4), and the close codes."""

from __future__ import annotations

import pytest

from fastws import CloseCode, InvalidUtf8, ProtocolError
from fastws.codes import is_sendable_close_code

SENDABLE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
UNSENDABLE = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def test_close_code_table():
    assert [code for code in range(0, 70000) if is_sendable_close_code(code)] == [
        *range(1000, 1004),
        *range(1007, 1015),
        *range(3000, 5000),
    ]


@pytest.mark.parametrize("code", SENDABLE)
def test_round_trip(kernel, code):
    payload = kernel.encode_close(code, "bye ✓")
    assert payload == code.to_bytes(2, "big") + "bye ✓".encode()
    parsed_code, reason = kernel.parse_close(payload)
    assert (parsed_code, reason) == (code, "bye ✓")
    if code in CloseCode._value2member_map_:
        assert type(parsed_code) is CloseCode


def test_empty_payload_means_no_status(kernel):
    assert kernel.parse_close(b"") == (CloseCode.NO_STATUS_RCVD, "")
    assert kernel.encode_close(1000) == b"\x03\xe8"


def test_one_byte_payload(kernel):
    with pytest.raises(ProtocolError, match="1 byte") as caught:
        kernel.parse_close(b"\x03")
    assert caught.value.close_code == 1002


@pytest.mark.parametrize("code", UNSENDABLE)
def test_codes_that_must_not_be_sent(kernel, code):
    with pytest.raises(ProtocolError, match=f"close code {code} must not be sent") as caught:
        kernel.parse_close(code.to_bytes(2, "big"))
    assert caught.value.close_code == 1002
    with pytest.raises(ValueError, match=f"close code {code} must not be sent"):
        kernel.encode_close(code)


def test_reason_length(kernel):
    assert kernel.parse_close(b"\x03\xe8" + b"r" * 123)[1] == "r" * 123
    with pytest.raises(ProtocolError, match="124 bytes exceeds 123") as caught:
        kernel.parse_close(b"\x03\xe8" + b"r" * 124)
    assert caught.value.close_code == 1002
    with pytest.raises(ValueError, match="exceeds 123"):
        kernel.encode_close(1000, "é" * 62)


@pytest.mark.parametrize("reason, position", [(b"\xff", 0), (b"ok\xed\xa0\x80", 3), (b"ab\xc3", 3), (b"\xce\xba\xe1\xbd", 4)])
def test_reason_must_be_utf8(kernel, reason, position):
    with pytest.raises(InvalidUtf8, match="not valid UTF-8") as caught:
        kernel.parse_close(b"\x03\xe8" + reason)
    assert caught.value.close_code == 1007
    assert caught.value.position == position


def test_any_buffer(kernel):
    assert kernel.parse_close(bytearray(b"\x03\xe9ok")) == (1001, "ok")
    assert kernel.parse_close(memoryview(b"\x03\xe9ok")) == (1001, "ok")
