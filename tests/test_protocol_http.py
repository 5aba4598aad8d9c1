"""fastws.protocol._http: the HTTP/1.1 head parser and writer."""

from __future__ import annotations

import pytest
from protocol_helpers import REQUEST

from fastws.protocol import HandshakeError
from fastws.protocol._http import (
    header_values,
    parse_extensions,
    parse_head,
    parse_request_line,
    parse_status_line,
    serialize_head,
    token_list,
)


def test_parse_head_whole_and_incremental():
    start, headers, end = parse_head(bytearray(REQUEST + b"rest"))
    assert start == "GET /chat HTTP/1.1" and end == len(REQUEST)
    assert header_values(headers, "HOST") == ["server.example.com"]
    for cut in range(len(REQUEST) - 1):
        assert parse_head(bytearray(REQUEST[:cut])) is None


def test_values_are_trimmed_and_obs_text_kept():
    _, headers, _ = parse_head(bytearray(b"GET / HTTP/1.1\r\nX-A: \t caf\xe9 \t\r\nX-Empty:\r\n\r\n"))
    assert headers == (("X-A", "caf\xe9"), ("X-Empty", ""))


@pytest.mark.parametrize(
    "wire, status",
    [
        (b"GET / HTTP/1.1\r\n X: folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX\x01: 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", 400),
        (b"GET /\x00 HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 129 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nX: " + b"y" * 16400 + b"\r\n\r\n", 431),
    ],
)
def test_parse_head_errors(wire, status):
    with pytest.raises(HandshakeError) as raised:
        parse_head(bytearray(wire))
    assert raised.value.status_code == status


@pytest.mark.parametrize(
    "line, status",
    [
        ("GET / HTTP/1.0", 505),
        ("GET / HTTP/2", 505),
        ("GET /", 400),
        ('G"T / HTTP/1.1', 400),
        ("GET a b HTTP/1.1", 400),
    ],
)
def test_request_line_errors(line, status):
    with pytest.raises(HandshakeError) as raised:
        parse_request_line(line)
    assert raised.value.status_code == status


def test_status_lines():
    assert parse_status_line("HTTP/1.1 101 Switching Protocols") == 101
    assert parse_status_line("HTTP/1.1 404") == 404
    assert parse_status_line("HTTP/1.1 200 ") == 200
    for line in ("HTTP/1.0 101 OK", "HTTP/1.1 1010 x", "HTTP/1.1 abc", "ICY 200 OK"):
        with pytest.raises(HandshakeError):
            parse_status_line(line)


def test_token_lists():
    assert token_list(["a, b", ",c,, ", ""]) == ["a", "b", "c"]
    assert token_list(["websocket/13"], check=False) == ["websocket/13"]
    with pytest.raises(HandshakeError):
        token_list(["a b"])


def test_parse_extensions():
    assert parse_extensions(['permessage-deflate; client_max_window_bits, x-foo;a=1 ;b="two"', "y"]) == [
        ("permessage-deflate", (("client_max_window_bits", None),)),
        ("x-foo", (("a", "1"), ("b", "two"))),
        ("y", ()),
    ]
    assert parse_extensions([", a ,"]) == [("a", ())]
    assert parse_extensions(['a; b="\\c"']) == [("a", (("b", "c"),))]
    for bad in ["a; b=", "a;", "; a", "a b", 'a; b="x y"', "a; b=c=d"]:
        with pytest.raises(HandshakeError):
            parse_extensions([bad])


def test_serialize_head():
    assert serialize_head("HTTP/1.1 101 Switching Protocols", [("A", "1")]) == b"HTTP/1.1 101 Switching Protocols\r\nA: 1\r\n\r\n"
    for bad in [("A B", "1"), ("A", "1\r\nB: 2"), ("A", " padded"), ("A", "\u20ac")]:
        with pytest.raises(ValueError):
            serialize_head("GET / HTTP/1.1", [bad])
