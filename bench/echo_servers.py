"""Echo servers for bench/echo.py and bench/attack.py, one per library and API:

    python bench/echo_servers.py KIND PORT [--loop asyncio|uvloop] [--defaults]

Each echoes every message, text as text and binary as binary, on 127.0.0.1:PORT until
SIGTERM or SIGINT, then shuts down as the library does (closing its connections with
1001 where the library leaves that to the application), configured alike: no
compression, 64 MiB messages, no keepalive, a queue of 64 messages where the API has
one. With ``--defaults`` the WebSocket servers keep their library's defaults instead
(size limits, queues, keepalive, compression offered): what a user gets who writes the
shortest server. KIND:

    fastws-task      fastws.aio.serve(handler): a task per connection (Cython core)
    fastws-callback  fastws.aio.serve_callbacks(Listener): on_message from the transport
    fastws-pure      fastws-task on the pure-Python implementation (FASTWS_NO_EXTENSIONS=1)
    picows           picows' core API: WSListener.on_ws_frame callbacks
    picows-ws        picows.websockets: picows' websockets-compatible task API
    websockets       websockets.asyncio.server
    websockets+fastws  the same with fastws.compat.install("websockets")
    aiohttp          aiohttp.web.WebSocketResponse
    wsproto          wsproto's sans-IO connection in an asyncio.Protocol
    asyncio-tcp      raw bytes, no WebSocket: an asyncio.Protocol writing back what it reads
    socket-tcp       raw bytes, no WebSocket: blocking sockets, a thread per connection

Once listening it prints one line, ``ready <library version> <event loop class>``; on
asyncio's own loop the line ends with ``turns``, and each SIGUSR1 then prints ``turns N``,
the loop's turns so far. When
the library, the API or the loop is not installed it prints ``missing: <why>`` on stderr
and exits with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import threading
from importlib.metadata import version
from typing import Any, Awaitable, Callable, Coroutine, Dict, Union

HOST = "127.0.0.1"
LIMIT = 2**26
QUEUE = 64
MISSING = 3
#: Set by ``--defaults``: every library at its own defaults.
DEFAULTS = False


def ready(name_version: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        name = "threads"
    else:
        name = f"{type(loop).__module__}.{type(loop).__qualname__}"
        if count_turns(loop):
            name += " turns"
    print(f"ready {name_version} {name}", flush=True)


def count_turns(loop: asyncio.AbstractEventLoop) -> bool:
    """On asyncio's own loop, counts the loop's turns (its ``_run_once`` calls: a
    wrapper of well under a microsecond a turn) and prints ``turns N`` on SIGUSR1.
    uvloop's turns are in C, out of reach: nothing is printed there."""
    run_once = getattr(loop, "_run_once", None)
    if run_once is None or not hasattr(signal, "SIGUSR1"):
        return False
    turns = 0

    def counted() -> None:
        nonlocal turns
        turns += 1
        run_once()

    loop._run_once = counted  # type: ignore[attr-defined]
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(f"turns {turns}", flush=True))
    return True


async def stopped() -> None:
    """Returns at the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    await stop


def configured(**options: Any) -> Dict[str, Any]:
    """``options``, or none at all with ``--defaults``."""
    return {} if DEFAULTS else options


def fastws_version(expected: str) -> str:
    import fastws

    if fastws.implementation != expected:
        raise SystemExit(f"fastws runs its {fastws.implementation} implementation here, not {expected}: {fastws.implementation_error}")
    return f"fastws-{fastws.__version__}-{fastws.implementation}"


async def echo_task(ws: Any) -> None:
    """The handler of every websockets-style task API."""
    async for message in ws:
        await ws.send(message)


async def fastws_task_server(port: int) -> None:
    from fastws.aio import serve

    name = fastws_version("python" if os.environ.get("FASTWS_NO_EXTENSIONS") == "1" else "cython")
    async with serve(echo_task, HOST, port, **configured(compression=None, max_message_size=LIMIT, ping_interval=None, max_queue=QUEUE)):
        ready(name)
        await stopped()


async def fastws_callback_server(port: int) -> None:
    from fastws.aio import Listener, serve_callbacks

    class Echo(Listener):
        def on_message(self, ws: Any, message: Any) -> None:
            ws.send_nowait(message)

    name = fastws_version("cython")
    async with serve_callbacks(Echo, HOST, port, **configured(compression=None, max_message_size=LIMIT, ping_interval=None)):
        ready(name)
        await stopped()


async def websockets_server(port: int) -> None:
    from websockets.asyncio.server import serve

    async with serve(echo_task, HOST, port, **configured(compression=None, max_size=LIMIT, ping_interval=None, max_queue=QUEUE)):
        ready(f"websockets-{version('websockets')}")
        await stopped()


async def picows_websockets_server(port: int) -> None:
    from picows.websockets import serve

    async with serve(echo_task, HOST, port, **configured(compression=None, max_size=LIMIT, ping_interval=None, max_queue=QUEUE)):
        ready(f"picows.websockets-{version('picows')}")
        await stopped()


async def websockets_fastws_server(port: int) -> None:
    import fastws.compat

    fastws.compat.install("websockets")
    await websockets_server(port)


async def aiohttp_server(port: int) -> None:
    from aiohttp import WSMsgType, web

    sockets = set()

    async def handler(request):  # type: ignore[no-untyped-def]
        ws = web.WebSocketResponse(**configured(compress=False, max_msg_size=LIMIT, autoping=True))
        await ws.prepare(request)
        sockets.add(ws)
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            elif message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
        sockets.discard(ws)
        return ws

    async def on_shutdown(app):  # type: ignore[no-untyped-def]
        # aiohttp's documented graceful shutdown: close every WebSocket (1001).
        await asyncio.gather(*(ws.close(code=1001, message=b"server shutdown") for ws in set(sockets)), return_exceptions=True)

    app = web.Application()
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    ready(f"aiohttp-{version('aiohttp')}")
    await stopped()
    await runner.cleanup()


async def picows_server(port: int) -> None:
    from picows import WSListener, WSMsgType, ws_create_server

    transports = set()

    class Echo(WSListener):  # type: ignore[misc,unused-ignore]
        def on_ws_connected(self, transport):  # type: ignore[no-untyped-def]
            transports.add(transport)

        def on_ws_disconnected(self, transport):  # type: ignore[no-untyped-def]
            transports.discard(transport)

        def on_ws_frame(self, transport, frame):  # type: ignore[no-untyped-def]
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview())

    async with await ws_create_server(lambda _: Echo(), HOST, port, **configured(max_frame_size=LIMIT)):
        ready(f"picows-{version('picows')}")
        await stopped()
        # picows leaves open connections to the application: close each (1001).
        for transport in set(transports):
            transport.send_close(1001, b"server shutdown")
            transport.disconnect()


async def wsproto_server(port: int) -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):  # type: ignore[no-untyped-def]
            self.transport = transport
            self.ws = WSConnection(ConnectionType.SERVER)
            self.parts = []

        def data_received(self, data):  # type: ignore[no-untyped-def]
            self.ws.receive_data(data)
            out = []
            for event in self.ws.events():
                if isinstance(event, Request):
                    out.append(self.ws.send(AcceptConnection()))
                elif isinstance(event, (BytesMessage, TextMessage)):
                    self.parts.append(event.data)
                    if event.message_finished:
                        whole = (b"" if isinstance(event, BytesMessage) else "").join(self.parts)
                        self.parts = []
                        out.append(self.ws.send(type(event)(data=whole)))
                elif isinstance(event, Ping):
                    out.append(self.ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    out.append(self.ws.send(event.response()))
                    self.transport.write(b"".join(out))
                    self.transport.close()
                    return
            if out:
                self.transport.write(b"".join(out))

    async with await asyncio.get_running_loop().create_server(Echo, HOST, port):
        ready(f"wsproto-{version('wsproto')}")
        await stopped()


async def asyncio_tcp_server(port: int) -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):  # type: ignore[no-untyped-def]
            self.transport = transport

        def data_received(self, data):  # type: ignore[no-untyped-def]
            self.transport.write(data)

    async with await asyncio.get_running_loop().create_server(Echo, HOST, port):
        ready(f"python-{sys.version.split()[0]}")
        await stopped()


def socket_tcp_server(port: int) -> None:
    listener = socket.create_server((HOST, port))

    def serve(connection: socket.socket) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        with connection:
            while True:
                count = connection.recv_into(buffer)
                if not count:
                    return
                connection.sendall(view[:count])

    ready(f"python-{sys.version.split()[0]}")
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


SERVERS: Dict[str, Callable[[int], Union[None, Awaitable[None]]]] = {
    "fastws-task": fastws_task_server,
    "fastws-callback": fastws_callback_server,
    "fastws-pure": fastws_task_server,
    "picows": picows_server,
    "picows-ws": picows_websockets_server,
    "websockets": websockets_server,
    "websockets+fastws": websockets_fastws_server,
    "aiohttp": aiohttp_server,
    "wsproto": wsproto_server,
    "asyncio-tcp": asyncio_tcp_server,
    "socket-tcp": socket_tcp_server,
}
#: Servers that run no event loop.
LOOPLESS = {"socket-tcp"}


def run_on(loop: str, main: Coroutine[Any, Any, None]) -> None:
    if loop == "asyncio":
        asyncio.run(main)
        return
    try:
        import uvloop
    except ImportError:
        main.close()
        raise
    if hasattr(uvloop, "run"):  # uvloop >= 0.18
        uvloop.run(main)
    else:  # pragma: no cover - older uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.run(main)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(SERVERS))
    parser.add_argument("port", type=int)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--defaults", action="store_true", help="each library at its own defaults")
    arguments = parser.parse_args()
    global DEFAULTS
    DEFAULTS = arguments.defaults
    if arguments.kind == "fastws-pure" and os.environ.get("FASTWS_NO_EXTENSIONS") != "1":
        raise SystemExit("fastws-pure needs FASTWS_NO_EXTENSIONS=1 in its environment")
    server = SERVERS[arguments.kind]
    try:
        if arguments.kind in LOOPLESS:
            server(arguments.port)
        else:
            run_on(arguments.loop, server(arguments.port))  # type: ignore[arg-type]
    except ImportError as error:
        print(f"missing: {error}", file=sys.stderr, flush=True)
        return MISSING
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
