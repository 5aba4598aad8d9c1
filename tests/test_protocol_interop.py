"""Interop over real loopback sockets (127.0.0.1): the fastws sans-IO client and
server against the ``websockets`` library and ``wsproto``, in both directions,
with fragmented and compressed messages. These libraries are test dependencies:
the tests fail, never skip, when they are missing."""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable, List, Union

import pytest
import websockets.sync.client
import websockets.sync.server
import wsproto
import wsproto.events as wse
import wsproto.extensions

from fastws.protocol import (
    AcceptConnection,
    BinaryMessage,
    ClientConnection,
    CloseConnection,
    PerMessageDeflate,
    Request,
    TextMessage,
    load_implementation,
)

TIMEOUT = 10
MESSAGES: List[Union[str, bytes]] = ["hello", "", "é€😀" * 3000, b"\x00\x01" * 40000, b"", "x" * 70000, bytes(range(256)) * 10]


def fragments(message: Union[str, bytes]) -> List[Union[str, bytes]]:
    third = max(1, len(message) // 3)
    return [message[:third], message[third : 2 * third], message[2 * third :]]


def listener() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(TIMEOUT)
    return sock


def run_thread(target: Callable[[], None]) -> Callable[[], None]:
    """Starts ``target``; returns a join that re-raises its exception."""
    errors: List[BaseException] = []

    def guarded() -> None:
        try:
            target()
        except BaseException as error:  # reported by join
            errors.append(error)

    thread = threading.Thread(target=guarded, daemon=True)
    thread.start()

    def join() -> None:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "peer thread hung"
        if errors:
            raise errors[0]

    return join


# -- a blocking driver for fastws endpoints (test only) ---------------------------


def fastws_serve(sock: socket.socket, impl: Any, compress: bool, closes: List[Any]) -> None:
    """Echoes every message back in three fragments until the peer closes."""
    conn, _ = sock.accept()
    conn.settimeout(TIMEOUT)
    server = load_implementation(impl).ServerConnection(max_message_size=None)
    with conn:
        while not server.should_close_transport:
            data = conn.recv(65536)
            if not data:
                server.receive_eof()
            else:
                server.receive_data(data)
            for event in server.events():
                if isinstance(event, Request):
                    conn.sendall(server.send(AcceptConnection(extensions=(PerMessageDeflate(),) if compress else ())))
                elif isinstance(event, (TextMessage, BinaryMessage)):
                    send = server.send_text if isinstance(event, TextMessage) else server.send_binary
                    pieces = fragments(event.data)
                    for index, piece in enumerate(pieces):
                        conn.sendall(send(piece, fin=index == len(pieces) - 1))
                elif isinstance(event, CloseConnection):
                    closes.append(event)
            conn.sendall(server.data_to_send())


def fastws_client(port: int, impl: Any, compress: bool) -> ClientConnection:
    """Sends MESSAGES (every other one fragmented), checks the echoes, closes."""
    client = load_implementation(impl).ClientConnection(max_message_size=None)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(client.send(Request(host=f"127.0.0.1:{port}", target="/echo", extensions=(PerMessageDeflate(),) if compress else ())))
        received: List[Any] = []

        def pump(until: Callable[[], bool]) -> None:
            while not until():
                data = conn.recv(65536)
                if not data:
                    client.receive_eof()
                    return
                client.receive_data(data)
                received.extend(client.events())
                conn.sendall(client.data_to_send())

        pump(lambda: bool(received))
        accepted = received.pop(0)
        assert isinstance(accepted, AcceptConnection), accepted
        assert bool(accepted.extensions) is compress
        for number, message in enumerate(MESSAGES):
            send = client.send_text if isinstance(message, str) else client.send_binary
            if number % 2:
                pieces = fragments(message)
                for index, piece in enumerate(pieces):
                    conn.sendall(send(piece, fin=index == len(pieces) - 1))
            else:
                conn.sendall(send(message))
            pump(lambda: len(received) > 0)
            echo = received.pop(0)
            assert echo.data == message
        conn.sendall(client.close(1000, "done"))
        pump(lambda: client.should_close_transport)
        assert received == [CloseConnection(1000, "done")]
    return client


# -- websockets -------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_fastws_client_websockets_server(impl, compress):
    def echo(ws: Any) -> None:
        for message in ws:
            ws.send(fragments(message))  # an iterable: a fragmented message

    with websockets.sync.server.serve(echo, "127.0.0.1", 0, compression="deflate" if compress else None, max_size=None) as server:
        stop = run_thread(server.serve_forever)
        try:
            fastws_client(server.socket.getsockname()[1], impl, compress)
        finally:
            server.shutdown()
            stop()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_websockets_client_fastws_server(impl, compress):
    sock = listener()
    closes: List[Any] = []
    join = run_thread(lambda: fastws_serve(sock, impl, compress, closes))
    uri = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
    with websockets.sync.client.connect(uri, compression="deflate" if compress else None, max_size=None, proxy=None) as ws:
        assert bool(ws.response.headers.get("Sec-WebSocket-Extensions")) is compress
        for number, message in enumerate(MESSAGES):
            ws.send(fragments(message) if number % 2 else message)
            assert ws.recv() == message
        ws.close(1001, "bye")
        assert ws.close_code == 1001
    join()
    sock.close()
    assert closes == [CloseConnection(1001, "bye")]


# -- wsproto ----------------------------------------------------------------------


def wsproto_events(conn: socket.socket, ws: wsproto.WSConnection) -> List[Any]:
    data = conn.recv(65536)
    ws.receive_data(data or None)
    return list(ws.events())


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_fastws_client_wsproto_server(impl, compress):
    sock = listener()

    def serve() -> None:
        conn, _ = sock.accept()
        conn.settimeout(TIMEOUT)
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        parts: List[Any] = []
        with conn:
            while ws.state is not wsproto.connection.ConnectionState.CLOSED:
                for event in wsproto_events(conn, ws):
                    if isinstance(event, wse.Request):
                        extensions = [wsproto.extensions.PerMessageDeflate()] if compress else []
                        conn.sendall(ws.send(wse.AcceptConnection(extensions=extensions)))
                    elif isinstance(event, wse.Message):
                        parts.append(event.data)
                        if event.message_finished:
                            message = type(event.data)().join(parts)
                            parts.clear()
                            pieces = fragments(message)
                            kind = wse.TextMessage if isinstance(message, str) else wse.BytesMessage
                            for index, piece in enumerate(pieces):
                                conn.sendall(ws.send(kind(data=piece, message_finished=index == len(pieces) - 1)))
                    elif isinstance(event, wse.CloseConnection):
                        assert (event.code, event.reason) == (1000, "done")
                        conn.sendall(ws.send(event.response()))

    join = run_thread(serve)
    fastws_client(sock.getsockname()[1], impl, compress)
    join()
    sock.close()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_wsproto_client_fastws_server(impl, compress):
    sock = listener()
    closes: List[Any] = []
    join = run_thread(lambda: fastws_serve(sock, impl, compress, closes))
    ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as conn:
        extensions = [wsproto.extensions.PerMessageDeflate()] if compress else []
        conn.sendall(ws.send(wse.Request(host="127.0.0.1", target="/", extensions=extensions)))
        events: List[Any] = []
        while not events:
            events = wsproto_events(conn, ws)
        (accepted,) = events
        assert isinstance(accepted, wse.AcceptConnection) and bool(accepted.extensions) is compress
        for number, message in enumerate(MESSAGES):
            kind = wse.TextMessage if isinstance(message, str) else wse.BytesMessage
            pieces = fragments(message) if number % 2 else [message]
            for index, piece in enumerate(pieces):
                conn.sendall(ws.send(kind(data=piece, message_finished=index == len(pieces) - 1)))
            parts: List[Any] = []
            while not parts or not parts[-1].message_finished:
                parts += [event for event in wsproto_events(conn, ws) if isinstance(event, wse.Message)]
            assert type(message)().join(part.data for part in parts) == message
            assert len(parts) >= 2  # fastws echoed it in fragments
        conn.sendall(ws.send(wse.CloseConnection(code=1000, reason="done")))
        closed: List[Any] = []
        while not closed:
            closed = [(e.code, e.reason) for e in wsproto_events(conn, ws) if isinstance(e, wse.CloseConnection)]
        assert closed == [(1000, "")]
        assert conn.recv(1) == b""  # the server closed TCP first
    join()
    sock.close()
    assert closes == [CloseConnection(1000, "done")]
