"""Real Redis servers for the tests: ``redis-server`` (Debian's package) on free
loopback ports, started and stopped by the tests. In CI (CI=true) a missing
``redis-server``/``redis-cli`` or redis-py fails the tests; elsewhere they skip, saying so."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional

import pytest

REDIS_SERVER = os.environ.get("FASTWS_REDIS_SERVER", "redis-server")
REDIS_CLI = os.environ.get("FASTWS_REDIS_CLI", "redis-cli")
IN_CI = os.environ.get("CI", "") not in ("", "0", "false")


def require_redis() -> None:
    """Fails in CI, skips elsewhere, when Redis or redis-py is missing.
    FASTWS_NO_REDIS_TESTS=1 turns these tests off (the packaging checks, whose
    environments have no ``redis`` extra)."""
    if os.environ.get("FASTWS_NO_REDIS_TESTS", "") not in ("", "0"):
        pytest.skip("FASTWS_NO_REDIS_TESTS is set")
    missing = [name for name in (REDIS_SERVER, REDIS_CLI) if shutil.which(name) is None]
    if importlib.util.find_spec("redis") is None:
        missing.append("redis-py (pip install 'fastws[redis]')")
    if missing:
        message = f"missing: {', '.join(missing)} (apt-get install redis-server redis-tools)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message + "; CI fails here instead")


def free_port(cluster: bool = False) -> int:
    """A free loopback port; for a cluster node, one whose bus port (+10000) is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not cluster:
            return port
        if port + 10000 < 65536:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server on port {port} did not start")


class RedisServer:
    """One ``redis-server`` process in ``directory``; ``kill()`` and ``start()``
    again on the same port (the fault tests)."""

    def __init__(self, directory: Path, port: Optional[int] = None, cluster: bool = False) -> None:
        self.directory, self.port, self.cluster = directory, port or free_port(cluster), cluster
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        arguments = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        if self.cluster:
            arguments += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"]
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_listening(self.port, self.process)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def cli(self, *arguments: str) -> str:
        return subprocess.run([REDIS_CLI, "-p", str(self.port), *arguments], check=True, capture_output=True, text=True, timeout=30).stdout


def start_cluster(directory: Path, nodes: int = 3) -> List[RedisServer]:
    """``nodes`` primaries, no replicas, the slots split by ``redis-cli --cluster create``."""
    servers = [RedisServer(directory, cluster=True).start() for _ in range(nodes)]
    try:
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *(f"127.0.0.1:{server.port}" for server in servers),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in server.cli("cluster", "info") for server in servers):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    except BaseException:
        for server in servers:
            server.kill()
        raise
    return servers
