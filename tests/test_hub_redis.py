"""fastws.hub over a real Redis (started here on a free loopback port) and a
real three-node Redis Cluster: two hubs, each its own instance with its own
Redis connections, share topics; one Redis subscription per topic per hub; text
and binary; Redis killed mid-stream and restarted: local delivery goes on,
the hubs reconnect, subscribe again, log it, and delivery across them resumes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from hub_helpers import nothing_more, receive, topic_handler, until
from redis_helpers import RedisServer, require_redis, start_cluster
from test_aio_connection import run, uri

from fastws import aio
from fastws.hub import Hub


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[List[RedisServer]]:
    require_redis()
    servers = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield servers
    for server in servers:
        server.kill()


async def _topic_clients(impl: Any, one: Hub, two: Hub, topics: List[str]) -> Any:
    """A server on each hub and, for each topic, a client on each server; returns once
    both hubs subscribe to every topic."""
    servers = [aio.serve(topic_handler(hub), "127.0.0.1", 0, implementation=impl) for hub in (one, two)]
    for server in servers:
        await server.start()
    clients = {}
    for topic in topics:  # not a nested comprehension: an await in one needs Python 3.11
        clients[topic] = [await aio.connect(uri(server, "/" + topic), implementation=impl) for server in servers]
    await until(lambda: one.topics() == two.topics() == sorted(topics), what="subscriptions")
    return servers, clients


async def _two_instances(impl: Any, one: Hub, two: Hub, path: str, per_instance: int) -> Any:
    servers = [aio.serve(topic_handler(hub), "127.0.0.1", 0, implementation=impl) for hub in (one, two)]
    for server in servers:
        await server.start()
    clients = []
    for server in servers:  # not a nested comprehension: an await in one needs Python 3.11
        clients.append([await aio.connect(uri(server, path), implementation=impl) for _ in range(per_instance)])
    topic = path.lstrip("/")
    await until(lambda: one.subscribers(topic) == per_instance and two.subscribers(topic) == per_instance, what="subscriptions")
    return servers, clients


async def _cross(clients: List[List[aio.WebSocket]], message: Any) -> None:
    """A client of instance one sends; every client of both instances receives it once."""
    await clients[0][0].send(message)
    for ws in clients[0] + clients[1]:
        assert await receive(ws, 1) == [message]


def test_redis_two_instances(impl: Any, redis_server: RedisServer) -> None:
    from fastws.hub import RedisBackend

    async def main() -> None:
        async with Hub(RedisBackend(redis_server.url)) as one, Hub(RedisBackend(redis_server.url)) as two:
            servers, clients = await _two_instances(impl, one, two, "/room", 3)
            # One Redis subscription per topic per instance, not per connection.
            assert redis_server.cli("pubsub", "numsub", "fastws:room").split() == ["fastws:room", "2"]
            await _cross(clients, "héllo")
            await _cross(clients, b"\x00\x01\xff" * 300)
            await clients[1][2].send("back")
            for ws in clients[0] + clients[1]:
                assert await receive(ws, 1) == ["back"]
                assert await nothing_more(ws, 0.05)
            assert one.stats.received == 1 and two.stats.received == 2 and one.stats.unpublished == 0
            # A message published by another program (redis-cli) in the same envelope.
            redis_server.cli("publish", "fastws:room", "\x01" + "cli-pub!" + "from redis-cli")
            for ws in clients[0] + clients[1]:
                assert await receive(ws, 1) == ["from redis-cli"]
            for ws in clients[0] + clients[1]:
                await ws.close()
            await until(lambda: redis_server.cli("pubsub", "numsub", "fastws:room").split()[1] == "0", what="the Redis unsubscription")
            for server in servers:
                await server.aclose()

    run(main())


def test_redis_killed_mid_stream_and_restarted(impl: Any, redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    from fastws.hub import RedisBackend

    caplog.set_level(logging.WARNING, logger="fastws.hub")

    async def main() -> None:
        options = dict(backoff=(0.05, 0.2))
        async with Hub(RedisBackend(redis_server.url, **options)) as one, Hub(RedisBackend(redis_server.url, **options)) as two:
            servers, clients = await _two_instances(impl, one, two, "/stream", 2)
            receiver = clients[1][0]
            sent = received = 0
            for round_ in range(3):
                # A stream of messages from instance one; Redis dies in the middle of the second round.
                for index in range(100):
                    one.publish("stream", f"{round_}:{index}")
                    sent += 1
                    if round_ == 1 and index == 50:
                        redis_server.kill()
                    await asyncio.sleep(0.002)
                if round_ == 1:
                    # Redis is away: the local subscribers still get everything.
                    await until(lambda: not one.backend.connected, what="the hub to notice")  # type: ignore[union-attr]
                    one.publish("stream", "local only")
                    for ws in clients[0]:
                        got = [message for message in await receive(ws, 201) if message == "local only"]
                        assert got == ["local only"]
                    assert one.stats.unpublished >= 1
                    redis_server.start()
                    await until(lambda: one.backend.connected and two.backend.connected, timeout=20, what="the reconnection")  # type: ignore[union-attr]
                    await until(lambda: redis_server.cli("pubsub", "numsub", "fastws:stream").split()[1] == "2", what="the resubscription")
                while True:
                    try:
                        message = await asyncio.wait_for(receiver.recv(), 1.0)
                    except asyncio.TimeoutError:
                        break
                    received += 1
                    if round_ == 2 and message == "2:99":
                        break
            # Round one whole, round two up to the failure at most, round three whole again.
            assert 200 <= received <= sent
            assert one.backend.link.reconnects >= 1 and two.backend.link.reconnects >= 1  # type: ignore[union-attr]
            for ws in clients[0] + clients[1]:
                await ws.close()
            for server in servers:
                await server.aclose()

    run(main())
    messages = [record.getMessage() for record in caplog.records]
    assert any("unreachable" in message for message in messages)
    assert any("reconnected, subscribed again to 1 channels" in message for message in messages)


def test_redis_unreachable_at_start(impl: Any, redis_server: RedisServer) -> None:
    """A hub whose Redis is not there yet still serves locally, then connects."""
    from fastws.hub import RedisBackend

    redis_server.kill()

    async def main() -> None:
        async with Hub(RedisBackend(redis_server.url, backoff=(0.05, 0.1))) as hub:
            async with aio.serve(topic_handler(hub), "127.0.0.1", 0, implementation=impl) as server:
                client = await aio.connect(uri(server, "/t"), implementation=impl)
                await until(lambda: hub.subscribers("t") == 1, what="the subscription")
                assert hub.publish("t", "local") == 1 and await client.recv() == "local"
                assert hub.stats.unpublished == 1
                redis_server.start()
                await until(lambda: hub.backend.connected, what="the connection")  # type: ignore[union-attr]
                await until(lambda: redis_server.cli("pubsub", "numsub", "fastws:t").split()[1] == "1", what="the subscription")
                redis_server.cli("publish", "fastws:t", "\x02" + "12345678" + "remote")
                assert await client.recv() == b"remote"
                await client.close()

    run(main())


def test_redis_cluster_sharded(impl: Any, redis_cluster: List[RedisServer]) -> None:
    from fastws.hub import RedisClusterBackend

    topics = [f"topic-{index}" for index in range(12)]  # spread over the three shards

    async def main() -> None:
        url = redis_cluster[0].url
        async with Hub(RedisClusterBackend(url)) as one, Hub(RedisClusterBackend(url)) as two:
            servers, clients = await _topic_clients(impl, one, two, topics)
            owners = set()
            for topic in topics:
                # Each channel is subscribed on its own shard only, by both instances.
                counts = [int(node.cli("pubsub", "shardnumsub", "fastws:" + topic).split()[1]) for node in redis_cluster]
                assert sorted(counts) == [0, 0, 2], (topic, counts)
                owners.add(counts.index(2))
            assert len(owners) == 3  # the topics live on all three shards
            for topic in topics:
                first, second = clients[topic]
                await first.send(f"text on {topic}")
                assert await second.recv() == f"text on {topic}" and await first.recv() == f"text on {topic}"
                await second.send(topic.encode())
                assert await first.recv() == topic.encode() and await second.recv() == topic.encode()
            assert one.stats.received == two.stats.received == len(topics)
            for pair in clients.values():
                for ws in pair:
                    await ws.close()
            for server in servers:
                await server.aclose()

    run(main())


def test_redis_cluster_shard_killed_and_restarted(impl: Any, redis_cluster: List[RedisServer]) -> None:
    """One shard's node dies and comes back (same port, same nodes.conf): the topics on
    the other shards never stop; those on it resume once the cluster is whole again."""
    from fastws.hub import RedisClusterBackend

    topics = [f"fault-{index}" for index in range(9)]

    async def main() -> None:
        url = redis_cluster[0].url
        options = dict(backoff=(0.05, 0.2))
        async with Hub(RedisClusterBackend(url, **options)) as one, Hub(RedisClusterBackend(url, **options)) as two:
            servers, clients = await _topic_clients(impl, one, two, topics)
            owner = {
                topic: next(node for node in redis_cluster if node.cli("pubsub", "shardnumsub", "fastws:" + topic).split()[1] == "2")
                for topic in topics
            }
            victim = redis_cluster[2]
            on_victim = [topic for topic in topics if owner[topic] is victim]
            elsewhere = [topic for topic in topics if owner[topic] is not victim]
            assert on_victim and elsewhere
            victim.kill()
            await until(lambda: not one.backend.connected, what="the hub to notice")  # type: ignore[union-attr]
            for topic in elsewhere:
                first, second = clients[topic]
                await first.send("during")
                assert await receive(second, 1) == ["during"]
                assert await receive(first, 1) == ["during"]
            victim.start()
            await until(
                lambda: all("cluster_state:ok" in node.cli("cluster", "info") for node in redis_cluster), timeout=30, what="the cluster"
            )
            await until(lambda: one.backend.connected and two.backend.connected, timeout=30, what="the reconnection")  # type: ignore[union-attr]
            await until(
                lambda: all(victim.cli("pubsub", "shardnumsub", "fastws:" + topic).split()[1] == "2" for topic in on_victim),
                timeout=30,
                what="the resubscription",
            )
            for topic in topics:
                first, second = clients[topic]
                await first.send("after")
                assert await receive(second, 1) == ["after"]
                assert await receive(first, 1) == ["after"]
            for pair in clients.values():
                for ws in pair:
                    await ws.close()
            for server in servers:
                await server.aclose()

    asyncio.run(asyncio.wait_for(main(), 90))
