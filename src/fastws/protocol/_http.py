"""A small, strict HTTP/1.1 head parser and writer (RFC 9112 §2-§5), just what the
opening handshake needs: a request or status line, then header fields, then CRLF.

Limits on the head's size and on the number of fields bound the memory one peer can
make us hold; every violation is a ``HandshakeError`` with the status to answer.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Sequence, Tuple

from ._errors import HandshakeError

__all__ = [
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEAD_SIZE",
    "Head",
    "header_values",
    "parse_extensions",
    "parse_head",
    "parse_request_line",
    "parse_status_line",
    "serialize_head",
    "token_list",
]

DEFAULT_MAX_HEAD_SIZE = 16384
DEFAULT_MAX_HEADERS = 128

Headers = Tuple[Tuple[str, str], ...]
#: (start line, header fields, bytes of the head including its final empty line)
Head = Tuple[str, Headers, int]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN)
# Field values: visible characters, obs-text, spaces and tabs (RFC 9110 §5.5).
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS_RE = re.compile(r"HTTP/1\.1 ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?")
_TARGET_RE = re.compile(r"[\x21-\x7e]+")


def parse_head(buffer: bytearray, *, max_size: int = DEFAULT_MAX_HEAD_SIZE, max_headers: int = DEFAULT_MAX_HEADERS) -> Optional[Head]:
    """The head at the start of ``buffer``, or None while its end has not arrived."""
    end = buffer.find(b"\r\n\r\n", 0, max_size)
    if end < 0:
        if len(buffer) >= max_size:
            raise HandshakeError(f"HTTP head over {max_size} bytes", 431)
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    if len(lines) - 1 > max_headers:
        raise HandshakeError(f"more than {max_headers} header fields", 431)
    start_line = lines[0]
    if _BAD_VALUE_RE.search(start_line):
        raise HandshakeError("control character in the start line")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            # Also rejects obs-fold (a line that starts with whitespace) and
            # whitespace before the colon, as RFC 9112 §5.1-§5.2 require.
            raise HandshakeError(f"malformed header line {line[:80]!r}")
        value = value.strip(" \t")
        if _BAD_VALUE_RE.search(value):
            raise HandshakeError(f"control character in header {name}")
        headers.append((name, value))
    return start_line, tuple(headers), end + 4


def parse_request_line(line: str) -> Tuple[str, str]:
    """``(method, target)`` of an HTTP/1.1 request line."""
    parts = line.split(" ")
    if len(parts) != 3 or not _TOKEN_RE.fullmatch(parts[0]) or not _TARGET_RE.fullmatch(parts[1]):
        raise HandshakeError(f"malformed request line {line[:80]!r}")
    if parts[2] != "HTTP/1.1":
        raise HandshakeError(f"unsupported HTTP version {parts[2][:16]!r}", 505)
    return parts[0], parts[1]


def parse_status_line(line: str) -> int:
    """The status code of an HTTP/1.1 status line."""
    match = _STATUS_RE.fullmatch(line)
    if match is None:
        raise HandshakeError(f"malformed status line {line[:80]!r}")
    return int(match.group(1))


def header_values(headers: Headers, name: str) -> List[str]:
    """Every value of the field ``name`` (case-insensitive), in order."""
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


def token_list(values: Iterable[str], *, check: bool = True) -> List[str]:
    """The elements of a comma-separated list field (RFC 9110 §5.6.1); empty
    elements are ignored. With ``check``, each must be a token."""
    items = [item.strip(" \t") for value in values for item in value.split(",")]
    items = [item for item in items if item]
    if check:
        for item in items:
            if not _TOKEN_RE.fullmatch(item):
                raise HandshakeError(f"not a token: {item[:40]!r}")
    return items


_PARAM = rf'\s*;\s*({_TOKEN})(?:\s*=\s*({_TOKEN}|"(?:[^"\\]|\\.)*"))?'
_EXTENSION_RE = re.compile(rf"[\s,]*({_TOKEN})((?:{_PARAM})*)\s*(?:,|$)")
_PARAM_RE = re.compile(_PARAM)
_QUOTED_PAIR_RE = re.compile(r"\\(.)")

#: One extension offer or response: its name and parameters (value None when bare).
Extension = Tuple[str, Tuple[Tuple[str, Optional[str]], ...]]


def parse_extensions(values: Iterable[str]) -> List[Extension]:
    """The elements of ``Sec-WebSocket-Extensions`` fields (RFC 6455 §9.1)."""
    extensions: List[Extension] = []
    for value in values:
        position, size = 0, len(value)
        while position < size:
            match = _EXTENSION_RE.match(value, position)
            if match is None or match.end() == position:
                if not value[position:].strip(" \t,"):
                    break
                raise HandshakeError(f"malformed Sec-WebSocket-Extensions {value[:80]!r}")
            params = []
            for param in _PARAM_RE.finditer(match.group(2)):
                raw = param.group(2)
                if raw is not None and raw.startswith('"'):
                    raw = _QUOTED_PAIR_RE.sub(r"\1", raw[1:-1])
                    if not _TOKEN_RE.fullmatch(raw):  # RFC 6455 §9.1: still a token
                        raise HandshakeError(f"malformed extension parameter {raw[:40]!r}")
                params.append((param.group(1), raw))
            extensions.append((match.group(1), tuple(params)))
            position = match.end()
    return extensions


def serialize_head(start_line: str, headers: Sequence[Tuple[str, str]]) -> bytes:
    """A head on the wire; raises ValueError for a field that would break it."""
    lines = [start_line]
    for name, value in headers:
        if not _TOKEN_RE.fullmatch(name) or _BAD_VALUE_RE.search(value) or value != value.strip(" \t"):
            raise ValueError(f"invalid header field {name!r}: {value!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("HTTP heads carry latin-1 text only") from None
