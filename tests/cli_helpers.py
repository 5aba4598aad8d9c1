"""``python -m fastws ...`` in a subprocess, for the workers' tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from typing import Any, Dict, List, Tuple

from hub_helpers import until


class Cli:
    """``python -m fastws ...`` in a subprocess, its output gathered line by line."""

    def __init__(self, impl: Any, *arguments: str) -> None:
        """``impl``: the implementation module the subprocess must use, or None for its default."""
        self.arguments = arguments
        self.env = dict(os.environ)
        if impl is not None:
            self.env["FASTWS_NO_EXTENSIONS"] = "1" if impl.__name__.endswith("_pure") else "0"
        self.lines: List[str] = []
        self.process: Any = None

    async def start(self) -> int:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fastws", *self.arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=self.env
        )
        self._reader = asyncio.create_task(self._read())
        await until(lambda: self.find(r"server on \S+:(\d+)/"), what="the banner")
        return int(self.find(r"server on \S+:(\d+)/")[0][0])

    async def _read(self) -> None:
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return
            self.lines.append(line.decode().rstrip())

    def find(self, pattern: str) -> List[Tuple[str, ...]]:
        return [match.groups() for match in map(re.compile(pattern).search, self.lines) if match]

    def workers(self) -> Dict[int, int]:
        """slot -> pid of the latest worker listening in that slot."""
        return {int(slot): int(pid) for slot, pid in self.find(r"worker (\d+) \(pid (\d+)\) listening")}

    async def stop(self, timeout: float) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return int(code)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
