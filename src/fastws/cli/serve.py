"""``python -m fastws echo`` and ``python -m fastws chat``: servers over ``fastws.aio``.

    python -m fastws echo --host 127.0.0.1 --port 9001    echoes every message (the
                                                          Autobahn fuzzingclient's peer)
    python -m fastws chat --host 127.0.0.1 --port 8000    the chat example: a page at /,
                                                          every message to every client
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any, Dict, List, Optional

ECHO_MAX_MESSAGE_SIZE = 2**25  # Autobahn's 9.* cases send 16 MiB messages, some in 65,536 fragments


def add_arguments(commands: Any) -> None:
    """Adds the ``echo`` and ``chat`` subcommands to ``python -m fastws``'s parser."""
    for name, help_text, port in (("echo", "run a WebSocket echo server", 9001), ("chat", "run the chat example's server", 8000)):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=port)
        command.add_argument("--no-compression", action="store_true", help="decline permessage-deflate")
        command.add_argument("--ping-interval", type=float, default=None, help="keepalive ping every N seconds (default: none)")
        command.add_argument("--ping-timeout", type=float, default=None, help="drop a peer whose pong is N seconds late (default: the ping interval)")
        command.add_argument("--close-timeout", type=float, default=10.0, help="wait N seconds for a peer's closing handshake (default: 10)")
        if name == "echo":
            command.add_argument("--max-message-size", type=int, default=ECHO_MAX_MESSAGE_SIZE)


def run(arguments: argparse.Namespace) -> int:
    """Runs the ``echo`` or ``chat`` subcommand until SIGINT or SIGTERM."""
    try:
        asyncio.run(_serve(arguments))
    except KeyboardInterrupt:
        pass
    return 0


async def echo(ws: Any) -> None:
    """Sends every message back."""
    async for message in ws:
        await ws.send(message)


async def _serve(arguments: argparse.Namespace) -> None:
    from ..aio import serve

    options: Dict[str, Any] = dict(
        compression=None if arguments.no_compression else "deflate",
        ping_interval=arguments.ping_interval,
        ping_timeout=arguments.ping_interval if arguments.ping_timeout is None else arguments.ping_timeout,
        close_timeout=arguments.close_timeout,
    )
    if arguments.command == "echo":
        server = serve(echo, arguments.host, arguments.port, max_message_size=arguments.max_message_size, max_queue=64, **options)
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
