"""``python -m fastws echo`` and ``python -m fastws chat``: servers over ``fastws.aio``.

python -m fastws echo --host 127.0.0.1 --port 9001    echoes every message (the
                                                      Autobahn fuzzingclient's peer)
python -m fastws echo --api callback --loop uvloop    the same on the callback API, on uvloop
python -m fastws chat --host 127.0.0.1 --port 8000    the chat: a page at /, every
                                                      message to every client
... --workers 4                                       4 processes on one port (SO_REUSEPORT)
python -m fastws chat --workers 2 --redis redis://127.0.0.1:6379/0
                                                      the chat room shared by the workers
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from typing import Any, Dict, List, Optional

from ..aio import Listener, WebSocket, serve, serve_callbacks
from ..protocol import DEFAULT_MAX_FRAGMENTS

ECHO_MAX_MESSAGE_SIZE = 2**25  # Autobahn's 9.* cases send 16 MiB messages, some in 65,536 fragments


def add_arguments(commands: Any) -> None:
    """Adds the ``echo`` and ``chat`` subcommands to ``python -m fastws``'s parser."""
    for name, help_text, port in (("echo", "run a WebSocket echo server", 9001), ("chat", "run the chat example's server", 8000)):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=port)
        command.add_argument("--no-compression", action="store_true", help="decline permessage-deflate")
        command.add_argument("--ping-interval", type=float, default=20.0, help="keepalive: ping every N seconds (default 20; 0: off)")
        command.add_argument(
            "--ping-timeout", type=float, default=None, help="drop a peer whose pong is N seconds late (default: the ping interval)"
        )
        command.add_argument("--close-timeout", type=float, default=10.0, help="wait N seconds for a peer's closing handshake (default 10)")
        command.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the event loop (uvloop: pip install uvloop)")
        command.add_argument("--workers", type=int, default=1, help="processes serving the port (SO_REUSEPORT; default 1: this process)")
        if name == "echo":
            command.add_argument(
                "--api",
                choices=("task", "callback"),
                default="task",
                help="a task per connection (default), or callbacks from the transport",
            )
            command.add_argument("--max-message-size", type=int, default=ECHO_MAX_MESSAGE_SIZE)
            command.add_argument(
                "--max-fragments",
                type=int,
                default=DEFAULT_MAX_FRAGMENTS,
                help=f"fragments per message before 1009 (default {DEFAULT_MAX_FRAGMENTS}; 0: no limit)",
            )
        else:
            command.add_argument(
                "--redis", metavar="URL", help="share the room through this Redis (redis://host:port/db): across workers and hosts"
            )
            command.add_argument("--redis-cluster", action="store_true", help="--redis names a node of a Redis Cluster: sharded pub/sub")


def run(arguments: argparse.Namespace) -> int:
    """Runs the ``echo`` or ``chat`` subcommand until SIGINT or SIGTERM."""
    scheme = "ws" if arguments.command == "echo" else "http"
    if arguments.workers > 1:
        from ..aio import run_workers

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s: %(message)s", stream=sys.stderr)
        if arguments.command == "chat" and arguments.redis is None:
            logging.getLogger("fastws").warning("without --redis, a chat message reaches only the clients of its own worker")

        def listening(port: int) -> None:
            print(f"fastws {arguments.command} server on {scheme}://{arguments.host}:{port}/ ({arguments.workers} workers)", flush=True)

        return run_workers(
            lambda sock: _make(arguments, sock=sock), arguments.host, arguments.port, workers=arguments.workers, on_listening=listening
        )
    try:
        if arguments.loop == "uvloop":
            import uvloop

            uvloop.run(_serve(arguments, scheme))
        else:
            asyncio.run(_serve(arguments, scheme))
    except KeyboardInterrupt:
        pass
    return 0


async def echo(ws: Any) -> None:
    """Sends every message back."""
    async for message in ws:
        await ws.send(message)


class EchoListener(Listener):
    """Sends every message back, from the transport's read callback."""

    def on_message(self, ws: WebSocket, message: Any) -> None:
        ws.send_nowait(message)


def _make(arguments: argparse.Namespace, sock: Optional[socket.socket] = None) -> Any:
    """The server of ``arguments.command`` (not started; an async context manager)."""
    keepalive = arguments.ping_interval or None
    options: Dict[str, Any] = dict(
        compression=None if arguments.no_compression else "deflate",
        ping_interval=keepalive,
        ping_timeout=keepalive if arguments.ping_timeout is None else arguments.ping_timeout,
        close_timeout=arguments.close_timeout,
    )
    address = (None, 0) if sock is not None else (arguments.host, arguments.port)
    if arguments.command == "echo":
        options.update(sock=sock, max_message_size=arguments.max_message_size, max_fragments=arguments.max_fragments or None, max_queue=64)
        if arguments.api == "callback":
            return serve_callbacks(EchoListener, *address, **options)
        return serve(echo, *address, **options)
    from .chat import chat_server

    return chat_server(*address, sock=sock, redis=arguments.redis, redis_cluster=arguments.redis_cluster, **options)


async def _serve(arguments: argparse.Namespace, scheme: str) -> None:
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, on_signal)
    async with _make(arguments) as server:
        print(f"fastws {arguments.command} server on {scheme}://{arguments.host}:{server.bound_port}/", flush=True)
        await stop


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fastws.cli.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
