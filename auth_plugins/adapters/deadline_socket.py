"""A socket whose every read waits no longer than what is left of a login's time.

Shared by the requests and httpx adapters for TLS in TLS (an HTTPS proxy): one read
of the inner TLS is as many reads of the proxy's socket as a record takes, and the
libraries set the socket's timeout once for all of them. Standard library only.
"""

from __future__ import annotations

import socket
import time
from typing import Any


class DeadlineSocket:
    """Stands in for ``sock``: each ``recv`` within the time left until ``ends``."""

    def __init__(self, sock: Any, ends: float) -> None:
        self.sock = sock
        self._ends = ends

    def recv(self, size: int) -> bytes:
        """``socket.recv`` within the time left (``socket.timeout`` once none is)."""
        left = self._ends - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        data: bytes = self.sock.recv(size)
        return data

    def __getattr__(self, name: str) -> Any:
        # The rest (settimeout, fileno, sendall...) is the socket's.
        return getattr(self.sock, name)
