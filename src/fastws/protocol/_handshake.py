"""The opening handshake (RFC 6455 §4): the client's request and the server's
response, built and checked in both roles."""

from __future__ import annotations

import base64
import hashlib
import os
from http import HTTPStatus
from typing import List, Optional, Sequence, Tuple

from ._deflate import NAME as DEFLATE
from ._deflate import PerMessageDeflate
from ._errors import HandshakeError
from ._events import AcceptConnection, Headers, RejectConnection, Request
from ._http import Head, header_values, parse_extensions, parse_request_line, parse_status_line, serialize_head, token_list

__all__ = [
    "GUID",
    "accept_key",
    "build_accept",
    "build_reject",
    "build_request",
    "check_request",
    "check_response",
    "is_upgrade",
    "make_key",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def make_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64 (RFC 6455 §4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``key``: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def _single(headers: Headers, name: str, status: int = 400) -> str:
    values = header_values(headers, name)
    if len(values) != 1:
        raise HandshakeError(f"{'missing' if not values else 'repeated'} {name} header", status)
    return values[0]


def _require_upgrade(headers: Headers) -> None:
    # Both are token lists, compared case-insensitively (RFC 6455 §4.2.1, §4.1).
    if "upgrade" not in [item.lower() for item in token_list(header_values(headers, "Connection"))]:
        raise HandshakeError("missing Connection: Upgrade")
    if "websocket" not in [item.lower() for item in token_list(header_values(headers, "Upgrade"), check=False)]:
        raise HandshakeError("missing Upgrade: websocket")


# -- the client's request ------------------------------------------------------------


def build_request(request: Request, key: str) -> bytes:
    headers: List[Tuple[str, str]] = [
        ("Host", request.host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if request.origin is not None:
        headers.append(("Origin", request.origin))
    if request.subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(token_list(request.subprotocols))))
    offers = [_offer_of(extension) for extension in request.extensions]
    if offers:
        headers.append(("Sec-WebSocket-Extensions", ", ".join(offers)))
    return serialize_head(f"GET {request.target} HTTP/1.1", headers + list(request.extra_headers))


def _offer_of(extension: object) -> str:
    if not isinstance(extension, PerMessageDeflate):
        raise TypeError(f"unsupported extension {extension!r}: only PerMessageDeflate")
    return extension.offer()


def is_upgrade(head: Head) -> bool:
    """Whether a request head asks for a WebSocket (``Upgrade: websocket``)."""
    return "websocket" in [item.lower() for item in token_list(header_values(head[1], "Upgrade"), check=False)]


def check_request(head: Head) -> Request:
    """The ``Request`` event for a request head; raises ``HandshakeError``."""
    start_line, headers, _ = head
    method, target = parse_request_line(start_line)
    if method != "GET":
        raise HandshakeError(f"method {method} is not GET", 405)
    host = _single(headers, "Host")
    if header_values(headers, "Transfer-Encoding") or any(value != "0" for value in header_values(headers, "Content-Length")):
        raise HandshakeError("a handshake request has no body")
    _require_upgrade(headers)
    key = _single(headers, "Sec-WebSocket-Key")
    try:
        valid_key = len(key) == 24 and len(base64.b64decode(key, validate=True)) == 16
    except ValueError:  # binascii.Error, or a non-ASCII character
        valid_key = False
    if not valid_key:
        raise HandshakeError("Sec-WebSocket-Key is not 16 bytes in base64")
    if header_values(headers, "Sec-WebSocket-Version") != ["13"]:
        raise HandshakeError("Sec-WebSocket-Version is not 13", 426)
    origins = header_values(headers, "Origin")
    if len(origins) > 1:
        raise HandshakeError("repeated Origin header")
    extensions = header_values(headers, "Sec-WebSocket-Extensions")
    parse_extensions(extensions)  # malformed offers are a bad request
    return Request(
        host=host,
        target=target,
        subprotocols=tuple(token_list(header_values(headers, "Sec-WebSocket-Protocol"))),
        extensions=tuple(extensions),
        origin=origins[0] if origins else None,
        headers=headers,
    )


# -- the server's response -----------------------------------------------------------


def build_accept(request: Request, accept: AcceptConnection) -> Tuple[bytes, Optional[PerMessageDeflate]]:
    """The 101 response, and the agreed permessage-deflate settings if any."""
    key = _single(request.headers, "Sec-WebSocket-Key")
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key))]
    if accept.subprotocol is not None:
        if accept.subprotocol not in request.subprotocols:
            raise ValueError(f"subprotocol {accept.subprotocol!r} was not offered")
        headers.append(("Sec-WebSocket-Protocol", accept.subprotocol))
    agreed = None
    supported = [extension for extension in accept.extensions if isinstance(extension, PerMessageDeflate)]
    if supported:
        for name, params in parse_extensions([offer for offer in request.extensions if isinstance(offer, str)]):
            if name == DEFLATE:
                answer = supported[0].accept_offer(params)
                if answer is not None:
                    headers.append(("Sec-WebSocket-Extensions", answer[0]))
                    agreed = answer[1]
                    break
    return serialize_head("HTTP/1.1 101 Switching Protocols", headers + list(accept.extra_headers)), agreed


def build_reject(reject: RejectConnection) -> bytes:
    status = reject.status_code
    if not 200 <= status <= 599:
        raise ValueError(f"status {status} cannot reject a handshake")
    headers = [(name, value) for name, value in reject.headers if name.lower() not in ("content-length", "connection")]
    if status == 426 and not header_values(reject.headers, "Sec-WebSocket-Version"):
        headers.append(("Sec-WebSocket-Version", "13"))
    headers += [("Content-Length", str(len(reject.body))), ("Connection", "close")]
    return serialize_head(f"HTTP/1.1 {status} {_reason(status)}", headers) + reject.body


def check_response(head: Head, key: str, request: Request) -> AcceptConnection:
    """The ``AcceptConnection`` event for a 101 response head; raises ``HandshakeError``."""
    _, headers, _ = head
    _require_upgrade(headers)
    if _single(headers, "Sec-WebSocket-Accept") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    subprotocol = None
    protocols = header_values(headers, "Sec-WebSocket-Protocol")
    if protocols:
        if len(protocols) != 1 or protocols[0] not in request.subprotocols:
            raise HandshakeError(f"the server chose a subprotocol that was not offered: {protocols!r}")
        subprotocol = protocols[0]
    return AcceptConnection(
        subprotocol=subprotocol,
        extensions=_agreed_extensions(header_values(headers, "Sec-WebSocket-Extensions"), request.extensions),
        headers=headers,
    )


def _agreed_extensions(values: Sequence[str], offered: Sequence[object]) -> Tuple[PerMessageDeflate, ...]:
    agreed: List[PerMessageDeflate] = []
    for name, params in parse_extensions(values):
        offers = [offer for offer in offered if isinstance(offer, PerMessageDeflate)]
        if name != DEFLATE or not offers or agreed:
            raise HandshakeError(f"the server accepted an extension that was not offered: {name}")
        errors = []
        for offer in offers:
            try:
                agreed.append(offer.accept_response(params))
                break
            except HandshakeError as error:
                errors.append(error)
        else:
            raise errors[0]
    return tuple(agreed)


def response_status(head: Head) -> int:
    return parse_status_line(head[0])
