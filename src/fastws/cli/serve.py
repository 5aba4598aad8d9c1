"""``python -m fastws echo`` and ``python -m fastws chat``: servers over ``fastws.aio``.

    python -m fastws echo --host 127.0.0.1 --port 9001    echoes every message (the
                                                          Autobahn fuzzingclient's peer)
    python -m fastws echo --api callback --loop uvloop    the same on the callback API, on uvloop
    python -m fastws chat --host 127.0.0.1 --port 8000    the chat example: a page at /,
                                                          every message to every client
"""

from __future__ import annotations

import argparse
import asyncio
import signal
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
        command.add_argument("--ping-interval", type=float, default=20.0, help="keepalive: ping every N seconds, drop a peer that does not answer within as long (default 20; 0: off)")
        command.add_argument("--ping-timeout", type=float, default=None, help="drop a peer whose pong is N seconds late (default: the ping interval)")
        command.add_argument("--close-timeout", type=float, default=10.0, help="seconds a closing handshake may take (default 10)")
        command.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the event loop (uvloop: pip install uvloop)")
        if name == "echo":
            command.add_argument("--api", choices=("task", "callback"), default="task", help="a task per connection (default), or callbacks from the transport")
            command.add_argument("--max-message-size", type=int, default=ECHO_MAX_MESSAGE_SIZE)
            command.add_argument("--max-fragments", type=int, default=DEFAULT_MAX_FRAGMENTS, help=f"fragments per message before 1009 (default {DEFAULT_MAX_FRAGMENTS}; 0: no limit)")


def run(arguments: argparse.Namespace) -> int:
    """Runs the ``echo`` or ``chat`` subcommand until SIGINT or SIGTERM."""
    try:
        if arguments.loop == "uvloop":
            import uvloop

            uvloop.run(_serve(arguments))
        else:
            asyncio.run(_serve(arguments))
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


async def _serve(arguments: argparse.Namespace) -> None:
    keepalive = arguments.ping_interval or None
    options: Dict[str, Any] = dict(
        compression=None if arguments.no_compression else "deflate",
        ping_interval=keepalive,
        ping_timeout=keepalive if arguments.ping_timeout is None else arguments.ping_timeout,
        close_timeout=arguments.close_timeout,
    )
    if arguments.command == "echo":
        options.update(max_message_size=arguments.max_message_size, max_fragments=arguments.max_fragments or None, max_queue=64)
        if arguments.api == "callback":
            server = serve_callbacks(EchoListener, arguments.host, arguments.port, **options)
        else:
            server = serve(echo, arguments.host, arguments.port, **options)
    else:
        server = _load_chat().make_server(arguments.host, arguments.port, **options)
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, on_signal)
    async with server:
        scheme = "ws" if arguments.command == "echo" else "http"
        print(f"fastws {arguments.command} server on {scheme}://{arguments.host}:{server.bound_port}/", flush=True)
        await stop


def _load_chat() -> Any:
    """examples/chat/server.py of the source tree (the example is not installed)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "chat" / "server.py"
    if not path.exists():
        raise SystemExit(f"the chat example is not here: {path} (run from a clone of fastws)")
    spec = importlib.util.spec_from_file_location("fastws_chat_example", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastws.cli.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
