"""A real ``redis-server`` for the Redis token store's tests, and its pytest fixtures.

- ``redis_server`` (session): one server for the whole run, on a free loopback
  port, no persistence (``--save '' --appendonly no``), in a temporary folder;
  stopped at the end of the session.
- ``redis_url`` (test): that server's URL, emptied (FLUSHALL) before the test.
- ``own_redis_server`` (test): a server of the test's own, which it may stop and
  start again on the same port (an outage).

A missing ``redis-server`` FAILS the test, with how to install it: these tests
are never skipped (``./dev test`` installs the program where it can).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

__all__ = ["RedisServer", "own_redis_server", "redis_server", "redis_url"]

#: How long a server may take to answer its first PING.
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1, started and stopped by the test run."""

    def __init__(self, folder: Path) -> None:
        program = shutil.which("redis-server")
        if program is None:
            pytest.fail(
                "the redis-server program is not on PATH: ./dev test installs it as root "
                "with apt-get; otherwise `sudo apt-get install redis-server` (Debian, Ubuntu) "
                "or `brew install redis` (macOS)",
                pytrace=False,
            )
        self.program = program
        self.folder = folder
        self.port = _free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        """A redis-py client of this server (for a test's own looks)."""
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> RedisServer:
        """Start the server (on the same port as before) and wait until it answers."""
        assert self.process is None
        self.process = subprocess.Popen(
            [
                self.program,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}")
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server and wait for its process to end."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for the whole test session."""
    with tempfile.TemporaryDirectory(prefix="auth-plugins-redis-") as folder:
        server = RedisServer(Path(folder)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's redis-server, emptied for this test."""
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and start."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
