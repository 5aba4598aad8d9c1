"""Echo servers for bench/echo.py and bench/attack.py, one per library:
``python bench/echo_servers.py KIND PORT [--defaults]``.

Each echoes every message (binary, uncompressed, no size limit worth mentioning)
on 127.0.0.1:PORT until SIGTERM or SIGINT, then shuts down as the library does.
KIND: fastws, fastws-pure, websockets, aiohttp, picows, wsproto, asyncio-tcp,
socket-tcp (the last two echo raw bytes: no WebSocket). With ``--defaults`` the
WebSocket servers keep their library's defaults instead (size limits, queues,
keepalive, compression offered): what a user gets who writes the shortest server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading

HOST = "127.0.0.1"
LIMIT = 2**26
DEFAULTS = "--defaults" in sys.argv


async def stopped() -> None:
    """Returns at the first SIGTERM or SIGINT."""
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    await stop


async def fastws_server(port: int) -> None:
    from fastws.aio import serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    options = {} if DEFAULTS else dict(compression=None, max_message_size=LIMIT, ping_interval=None, max_queue=64)
    async with serve(echo, HOST, port, **options):
        await stopped()


async def websockets_server(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    options = {} if DEFAULTS else dict(compression=None, max_size=LIMIT, ping_interval=None)
    async with serve(echo, HOST, port, **options):
        await stopped()


async def aiohttp_server(port: int) -> None:
    from aiohttp import WSMsgType, web

    sockets = set()

    async def handler(request):  # type: ignore[no-untyped-def]
        ws = web.WebSocketResponse() if DEFAULTS else web.WebSocketResponse(compress=False, max_msg_size=LIMIT, autoping=True)
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
    await stopped()
    await runner.cleanup()


async def picows_server(port: int) -> None:
    from picows import WSListener, WSMsgType, ws_create_server

    transports = set()

    class Echo(WSListener):  # type: ignore[misc]
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

    options = {} if DEFAULTS else dict(max_frame_size=LIMIT)
    async with await ws_create_server(lambda _: Echo(), HOST, port, **options):
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
        await stopped()


async def asyncio_tcp_server(port: int) -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):  # type: ignore[no-untyped-def]
            self.transport = transport

        def data_received(self, data):  # type: ignore[no-untyped-def]
            self.transport.write(data)

    async with await asyncio.get_running_loop().create_server(Echo, HOST, port):
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

    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


SERVERS = {
    "fastws": fastws_server,
    "fastws-pure": fastws_server,
    "websockets": websockets_server,
    "aiohttp": aiohttp_server,
    "picows": picows_server,
    "wsproto": wsproto_server,
    "asyncio-tcp": asyncio_tcp_server,
    "socket-tcp": socket_tcp_server,
}

if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "fastws-pure":
        assert os.environ.get("FASTWS_NO_EXTENSIONS") == "1"
    run = SERVERS[kind]
    try:
        if asyncio.iscoroutinefunction(run):
            asyncio.run(run(port))
        else:
            run(port)
    except KeyboardInterrupt:
        pass
