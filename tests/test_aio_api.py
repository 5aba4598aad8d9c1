"""fastws.aio's newer API over real sockets: the callback API, messages sent and
received in pieces, limits on fragments and on queued bytes."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, List

import pytest
from test_aio_connection import echo, run, uri

from fastws import aio
from fastws.aio import ConnectionClosed
from fastws.protocol import LARGE_MESSAGE


class Recorder(aio.Listener):
    def __init__(self) -> None:
        self.seen: List[Any] = []
        self.closed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_open(self, ws: aio.WebSocket) -> None:
        self.seen.append("open")

    def on_message(self, ws: aio.WebSocket, message: Any) -> None:
        self.seen.append(message)

    def on_close(self, ws: aio.WebSocket, code: int, reason: str) -> None:
        self.closed.set_result((code, reason))


class Echo(aio.Listener):
    def on_message(self, ws: aio.WebSocket, message: Any) -> None:
        ws.send_nowait(message)


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_callback_server_and_client(impl: Any, compression: Any) -> None:
    async def main() -> None:
        async with aio.serve_callbacks(Echo, "127.0.0.1", 0, compression=compression, implementation=impl) as server:
            recorder = Recorder()
            ws = await aio.connect(uri(server), listener=recorder, compression=compression, implementation=impl)
            for message in ("héllo", b"\x00" * 100_000, ""):
                ws.send_nowait(message)
            await ws.send(iter(["in ", "pieces"]))  # fragments, joined for the listener
            while len(recorder.seen) < 5:
                await asyncio.sleep(0.01)
            assert recorder.seen == ["open", "héllo", b"\x00" * 100_000, "", "in pieces"]
            await ws.close(4000, "done")
            assert await recorder.closed == (4000, "")  # the server's echo of our close frame
            assert not server.connections or all(not c.open for c in server.connections)

    run(main())


@pytest.mark.parametrize("api", ["callback", "task"])
def test_large_messages_go_out_after_their_header(impl: Any, api: str) -> None:
    # A server's large message leaves as its frame header, then the message itself
    # (uncopied), while small answers gathered around it keep their order.
    sizes = [LARGE_MESSAGE, 10, 3 * 2**20, 0, 2 * LARGE_MESSAGE]
    messages: List[Any] = [bytes([index]) * size if index % 2 else "é" * (size // 2) for index, size in enumerate(sizes)]
    limit = 4 * 2**20

    async def main() -> None:
        options: Any = dict(max_message_size=limit, implementation=impl)
        opened = aio.serve(echo, "127.0.0.1", 0, **options) if api == "task" else aio.serve_callbacks(Echo, "127.0.0.1", 0, **options)
        async with opened as server:
            ws = await aio.connect(uri(server), max_message_size=limit, implementation=impl)
            for message in messages:
                ws.send_nowait(message)
            assert [await ws.recv() for _ in messages] == messages
            await ws.close()

    run(main())


def test_send_iterables_as_fragments_and_receive_them_streaming(impl: Any) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for index in range(5):
            yield bytes([index]) * 1000

    async def handler(ws: aio.WebSocket) -> None:
        got = [piece async for piece in ws.recv_streaming()]
        await ws.send(str(len(got)))
        await ws.send(await ws.recv())  # a fragmented message, joined by recv()
        whole = [piece async for piece in ws.recv_streaming()]
        await ws.send(repr(whole))

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
            async with aio.connect(uri(server), implementation=impl) as ws:
                await ws.send(pieces())
                assert int(await ws.recv()) >= 1  # pieces as they arrived, not joined
                await ws.send(["dé", "jà ", "vu"])
                assert await ws.recv() == "déjà vu"
                await ws.send(b"one frame")
                assert await ws.recv() == repr([b"one frame"])

    run(main())


def test_mixed_fragments_raise_and_end_the_connection(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, implementation=impl) as server:
            ws = await aio.connect(uri(server), implementation=impl)
            with pytest.raises(TypeError):
                await ws.send(["text", b"bytes"])
            await ws.wait_closed()
            assert ws.close_code == 1011
            with pytest.raises(TypeError):
                await ws.send(42)  # type: ignore[arg-type]

    run(main())


def test_streaming_receive_holds_a_large_message_in_pieces(impl: Any) -> None:
    # 8 MiB in 64 KiB fragments under an 8 MiB limit: recv_streaming() hands the
    # pieces over as they come; the queue never holds much more than its bound.
    size, chunk = 8 * 2**20, 64 * 1024
    peak: List[int] = [0]

    async def handler(ws: aio.WebSocket) -> None:
        total = 0
        async for piece in ws.recv_streaming():
            total += len(piece)
            peak[0] = max(peak[0], ws.queued[1])
            await asyncio.sleep(0)
        await ws.send(str(total))

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, max_message_size=size, max_queue_bytes=256 * 1024, implementation=impl) as server:
            async with aio.connect(uri(server), implementation=impl, compression=None) as ws:
                await ws.send(bytes(chunk) for _ in range(size // chunk))
                assert await ws.recv() == str(size)
        assert peak[0] <= 256 * 1024 + 2 * chunk, peak

    run(main())


def test_too_many_fragments_close_with_1009(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, max_fragments=8, implementation=impl) as server:
            async with aio.connect(uri(server), implementation=impl) as ws:
                await ws.send(["x"] * 8)  # 8 pieces and an empty last frame: 9 fragments
                with pytest.raises(ConnectionClosed) as caught:
                    await ws.recv()
                assert caught.value.code == 1009
            async with aio.connect(uri(server), implementation=impl) as ws:
                await ws.send(["x"] * 7)  # 8 fragments: fine
                assert await ws.recv() == "x" * 7

    run(main())


def test_message_over_the_limit_says_which_limit(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, max_message_size=1000, implementation=impl) as server:
            async with aio.connect(uri(server), implementation=impl) as ws:
                await ws.send(bytes(1001))
                with pytest.raises(ConnectionClosed) as caught:
                    await ws.recv()
                assert caught.value.code == 1009
                (server_ws,) = server.connections or [None]
        assert server_ws is None or server_ws.failure == (1009, "message over max_message_size=1000")

    run(main())


def test_queue_bounded_in_bytes_pauses_reading(impl: Any) -> None:
    release: List[asyncio.Event] = []
    sides: List[aio.WebSocket] = []

    async def handler(ws: aio.WebSocket) -> None:
        sides.append(ws)
        await release[0].wait()
        async for message in ws:
            if message == b"end":
                await ws.send("done")

    async def main() -> None:
        release.append(asyncio.Event())
        async with aio.serve(
            handler, "127.0.0.1", 0, max_queue=1000, max_queue_bytes=100_000, compression=None, implementation=impl
        ) as server:
            async with aio.connect(uri(server), compression=None, implementation=impl) as ws:
                for _ in range(200):  # 2 MB: far past the bound, and past socket buffers too
                    try:
                        await asyncio.wait_for(ws.send(bytes(10_000)), 0.5)
                    except asyncio.TimeoutError:
                        break
                await asyncio.sleep(0.2)
                messages, size = sides[0].queued
                assert sides[0].reading_paused
                assert size <= 100_000 + 10_000 + 256 * 1024, size  # the bound, a message, one read
                release[0].set()
                await ws.send(b"end")
                assert await asyncio.wait_for(ws.recv(), 10) == "done"

    run(main())
