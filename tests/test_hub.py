"""fastws.hub with the in-memory backend: topics, one backend subscription per
topic per hub, text and binary, once per subscriber, the slow subscriber skipped
and counted with bounded memory, closed connections forgotten."""

from __future__ import annotations

import asyncio
from typing import Any, List

from hub_helpers import nothing_more, receive, topic_handler, until
from test_aio_connection import run, uri

from fastws import aio
from fastws.hub import Hub, MemoryBackend, MemoryBroker


def test_two_hubs_share_topics(impl: Any) -> None:
    async def main() -> None:
        broker = MemoryBroker()
        async with Hub(MemoryBackend(broker)) as one, Hub(MemoryBackend(broker)) as two:
            async with (
                aio.serve(topic_handler(one), "127.0.0.1", 0, implementation=impl) as server1,
                aio.serve(topic_handler(two), "127.0.0.1", 0, implementation=impl) as server2,
            ):
                news1 = [await aio.connect(uri(server1, "/news"), implementation=impl) for _ in range(3)]
                news2 = [await aio.connect(uri(server2, "/news"), compression=None, implementation=impl) for _ in range(2)]
                sport2 = await aio.connect(uri(server2, "/sport"), implementation=impl)
                await until(
                    lambda: one.subscribers("news") == 3 and two.subscribers("news") == 2 and two.subscribers("sport") == 1,
                    what="subscriptions",
                )
                # One backend subscription per topic per hub, however many connections.
                assert len(broker.subscribers["news"]) == 2 and len(broker.subscribers["sport"]) == 1
                assert one.topics() == ["news"] and two.topics() == ["news", "sport"]

                await news1[0].send("héllo")
                await news1[0].send(b"\x00\xffbinary")
                for ws in news1 + news2:
                    assert await receive(ws, 2) == ["héllo", b"\x00\xffbinary"]
                    assert await nothing_more(ws, 0.05)  # once each: a hub ignores its own messages
                assert await nothing_more(sport2, 0.05)
                assert one.stats.published == 2 and one.stats.delivered == 6 and one.stats.received == 0
                assert two.stats.received == 2 and two.stats.delivered == 4

                assert two.publish("sport", bytearray(b"goal")) == 1
                assert await sport2.recv() == b"goal"
                for ws in news1 + news2:
                    await ws.close()
                await sport2.close()
                await until(lambda: not one.topics() and not two.topics(), what="unsubscriptions")
                assert broker.subscribers == {}

    run(main())


def test_unsubscribe_and_topics_per_connection(impl: Any) -> None:
    async def main() -> None:
        async with Hub() as hub:
            joined: List[aio.WebSocket] = []

            async def handler(ws: aio.WebSocket) -> None:
                await hub.subscribe(ws, "a")
                await hub.subscribe(ws, "b")
                await hub.subscribe(ws, "b")  # twice: one subscription
                joined.append(ws)
                await ws.wait_closed()

            async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
                client = await aio.connect(uri(server), implementation=impl)
                await until(lambda: joined, what="the handler")
                ws = joined[0]
                assert hub.topics(ws) == ["a", "b"] and hub.subscribers("b") == 1
                await hub.unsubscribe(ws, "a")
                await hub.unsubscribe(ws, "a")  # not subscribed any more: nothing happens
                assert hub.publish("a", "to a") == 0
                assert hub.publish("b", "to b") == 1
                assert await client.recv() == "to b"
                await hub.unsubscribe(ws, "b")
                assert hub.topics() == [] and hub.topics(ws) == []
                await client.close()

    run(main())


def test_closed_connections_are_forgotten(impl: Any) -> None:
    async def main() -> None:
        async with Hub() as hub:

            async def handler(ws: aio.WebSocket) -> None:
                await hub.subscribe(ws, "t")  # never unsubscribes: the hub must notice
                await ws.wait_closed()

            async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
                clients = [await aio.connect(uri(server), implementation=impl) for _ in range(3)]
                await until(lambda: hub.subscribers("t") == 3, what="subscriptions")
                await clients[0].close()
                await until(lambda: len(server.connections) == 2, what="the close")
                assert hub.publish("t", "x") == 2
                assert hub.subscribers("t") == 2
                for ws in clients[1:]:
                    assert await ws.recv() == "x"
                    await ws.close()
                await until(lambda: not server.connections, what="the closes")
                assert hub.publish("t", "y") == 0
                await until(lambda: hub.topics() == [], what="the topic to go")

    run(main())


def test_slow_subscriber_is_skipped_and_counted(impl: Any) -> None:
    """A client that never reads: the server's memory for it stays under the
    budget, the drops are counted for it alone, and the others get everything."""
    chunk = b"x" * 16384
    messages = 1000  # 16 MiB: more than the kernel buffers of a loopback connection hold

    async def main() -> None:
        async with Hub(max_buffer=64 * 1024) as hub:
            async with aio.serve(topic_handler(hub), "127.0.0.1", 0, compression=None, implementation=impl) as server:
                slow = await aio.connect(uri(server, "/feed"), compression=None, implementation=impl)
                fast = [await aio.connect(uri(server, "/feed"), compression=None, implementation=impl) for _ in range(3)]
                await until(lambda: hub.subscribers("feed") == 4, what="subscriptions")
                slow.transport.pause_reading()
                slow_side = next(ws for ws in server.connections if ws.remote_address == slow.transport.get_extra_info("sockname"))
                received: List[List[Any]] = [[] for _ in fast]

                async def reader(ws: aio.WebSocket, got: List[Any]) -> None:
                    while len(got) < messages:
                        got.append(await ws.recv())

                readers = [asyncio.create_task(reader(ws, got)) for ws, got in zip(fast, received)]
                biggest = 0
                for index in range(messages):
                    hub.publish("feed", chunk + index.to_bytes(4, "big"))
                    biggest = max(biggest, slow_side.transport.get_write_buffer_size())
                    await asyncio.sleep(0.001)
                await asyncio.wait_for(asyncio.gather(*readers), 20)
                for got in received:
                    assert [int.from_bytes(message[-4:], "big") for message in got] == list(range(messages))
                assert biggest <= 64 * 1024 + 2 * len(chunk)
                dropped = hub.dropped(slow_side)
                assert dropped > messages // 2
                assert hub.stats.dropped == dropped and all(hub.dropped(side) == 0 for side in server.connections if side is not slow_side)
                assert hub.stats.delivered == 4 * messages - dropped
                slow.transport.resume_reading()
                assert (await slow.recv())[-4:] == b"\x00\x00\x00\x00"
                for ws in [slow] + fast:
                    await ws.close()

    run(main())


def test_malformed_envelopes_are_counted(impl: Any) -> None:
    async def main() -> None:
        broker = MemoryBroker()
        async with Hub(MemoryBackend(broker)) as hub:
            async with aio.serve(topic_handler(hub), "127.0.0.1", 0, implementation=impl) as server:
                client = await aio.connect(uri(server, "/t"), implementation=impl)
                await until(lambda: hub.subscribers("t") == 1, what="the subscription")
                other = MemoryBackend(broker)
                await other.start(lambda topic, envelope: None)
                for envelope in (b"\x01" + b"o" * 8 + b"\xff\xfe", b"\x09" + b"o" * 8 + b"ping", b"", b"\x02" + b"o" * 8 + b"fine"):
                    assert other.publish("t", envelope)
                assert await client.recv() == b"fine"
                assert hub.stats.malformed == 3 and hub.stats.received == 1
                await other.aclose()
                await client.close()

    run(main())
