"""The asyncio client: ``connect(uri)``."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from types import ModuleType
from typing import Any, Generator, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from ..protocol import DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, PerMessageDeflate, Request, load_implementation
from ._connection import DEFAULT_MAX_QUEUE_BYTES, Listener, WebSocket

__all__ = ["connect"]


def _parse_uri(uri: str) -> Tuple[bool, str, int, str, str]:
    """(secure, host, port, Host header, request target) of a ws:// or wss:// URI (RFC 6455 §3)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URI: {uri!r}")
    if parts.fragment:
        raise ValueError("a WebSocket URI has no fragment (RFC 6455 §3)")
    secure = parts.scheme == "wss"
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {uri!r}")
    port = parts.port or (443 if secure else 80)
    host_header = f"[{host}]" if ":" in host else host
    if parts.port is not None and port != (443 if secure else 80):
        host_header += f":{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return secure, host, port, host_header, target


class connect:
    """Opens a client connection: ``ws = await connect(uri)`` or
    ``async with connect(uri) as ws:`` (closes it on exit).

    ``ssl``: an ``ssl.SSLContext`` for ``wss://`` (the default context when None);
    ``subprotocols`` to offer; ``compression`` "deflate" or None (``compression_level``: zlib's, default 1); ``origin``,
    ``extra_headers``; ``max_message_size``, ``max_fragments``, ``max_queue``,
    ``max_queue_bytes``, ``ping_interval``, ``ping_timeout`` (keepalive, default 20 s,
    None to disable), ``close_timeout``, ``open_timeout``; ``listener``: a ``Listener``
    whose callbacks get the messages (the callback API); ``implementation``. Raises
    ``InvalidHandshake`` when the server refuses or breaks the handshake.
    """

    def __init__(
        self,
        uri: str,
        *,
        ssl: Optional[ssl_module.SSLContext] = None,
        subprotocols: Sequence[str] = (),
        compression: Optional[str] = "deflate",
        compression_level: int = 1,
        origin: Optional[str] = None,
        extra_headers: Sequence[Tuple[str, str]] = (),
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: Optional[int] = DEFAULT_MAX_FRAGMENTS,
        max_queue: int = 16,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        close_timeout: float = 10.0,
        open_timeout: Optional[float] = 10.0,
        server_hostname: Optional[str] = None,
        listener: Optional[Listener] = None,
        implementation: Union[str, ModuleType, None] = None,
    ) -> None:
        if compression not in (None, "deflate"):
            raise ValueError(f"compression must be 'deflate' or None, not {compression!r}")
        self.uri = uri
        self._options = dict(
            ssl=ssl,
            subprotocols=tuple(subprotocols),
            compression=compression,
            compression_level=compression_level,
            origin=origin,
            extra_headers=tuple(extra_headers),
            max_message_size=max_message_size,
            max_fragments=max_fragments,
            max_queue=max_queue,
            max_queue_bytes=max_queue_bytes,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            open_timeout=open_timeout,
            server_hostname=server_hostname,
            listener=listener,
            implementation=implementation,
        )
        self._ws: Optional[WebSocket] = None

    async def _connect(self) -> WebSocket:
        o: Any = self._options
        secure, host, port, host_header, target = _parse_uri(self.uri)
        context = o["ssl"]
        if secure and context is None:
            context = ssl_module.create_default_context()
        elif not secure and context is not None:
            raise ValueError("an ssl context needs a wss:// URI")
        loop = asyncio.get_running_loop()
        proto = load_implementation(o["implementation"]).ClientConnection(
            max_message_size=o["max_message_size"],
            max_fragments=o["max_fragments"],
            hold_failure=True,
            report_pings=False,
            stream_messages=o["listener"] is None,
        )
        request = Request(
            host=host_header,
            target=target,
            subprotocols=o["subprotocols"],
            extensions=(PerMessageDeflate(compression_level=o["compression_level"]),) if o["compression"] == "deflate" else (),
            origin=o["origin"],
            extra_headers=o["extra_headers"],
        )

        def factory() -> WebSocket:
            return WebSocket(
                proto,
                max_queue=o["max_queue"],
                max_queue_bytes=o["max_queue_bytes"],
                ping_interval=o["ping_interval"],
                ping_timeout=o["ping_timeout"],
                close_timeout=o["close_timeout"],
                listener=o["listener"],
            )

        async def open_() -> WebSocket:
            hostname = (o["server_hostname"] or host) if context is not None else None
            _, ws = await loop.create_connection(factory, host, port, ssl=context, server_hostname=hostname)
            ws.request = request
            ws._write_now(proto.send(request))
            try:
                await ws._opened
            except BaseException:
                ws.abort()
                raise
            return ws

        if o["open_timeout"]:
            return await asyncio.wait_for(open_(), o["open_timeout"])
        return await open_()

    def __await__(self) -> Generator[Any, None, WebSocket]:
        return self._connect().__await__()

    async def __aenter__(self) -> WebSocket:
        self._ws = await self._connect()
        return self._ws

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._ws is not None
        await self._ws.close()
