"""The fastws client driver for Autobahn's fuzzingserver: runs every case the
server has, echoing each message, then asks it to write the report.

    python autobahn/client.py ws://127.0.0.1:9002 AGENT
"""

from __future__ import annotations

import asyncio
import sys
import time

import fastws
from fastws.aio import ConnectionClosed, InvalidHandshake, connect

MAX_MESSAGE_SIZE = 2**25


async def run_case(server: str, number: int, agent: str) -> None:
    try:
        ws = await connect(
            f"{server}/runCase?case={number}&agent={agent}",
            max_message_size=MAX_MESSAGE_SIZE,
            max_fragments=None,
            ping_interval=None,
            max_queue=64,
            close_timeout=5.0,
        )
    except (InvalidHandshake, OSError) as error:
        print(f"case {number}: {error}", file=sys.stderr)
        return
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), 30)


async def main(server: str, agent: str) -> None:
    async with connect(f"{server}/getCaseCount", ping_interval=None) as ws:
        count = int(await ws.recv())
    print(f"{count} cases against {agent} ({fastws.implementation})", flush=True)
    started = time.monotonic()
    for number in range(1, count + 1):
        await run_case(server, number, agent)
        if number % 50 == 0:
            print(f"  {number}/{count} ({time.monotonic() - started:.0f} s)", flush=True)
    async with connect(f"{server}/updateReports?agent={agent}", ping_interval=None) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 60)
        except ConnectionClosed:
            pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
