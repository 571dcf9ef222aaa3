"""A socket whose every read waits no longer than what is left of a login's time.

One read of a login answer may be many reads of its socket (a chunk-size line,
trailers, gzip that inflates to nothing; through an HTTPS proxy, each TLS record of
the inner connection), and the libraries set the socket's timeout once for all of
them. The requests adapter stands this in for the answer's socket; both adapters
for the proxy's socket under TLS in TLS. Standard library only.
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

    def wait_left(self) -> None:
        """Let the socket's next read wait only the time left (``socket.timeout`` once none is)."""
        left = self._ends - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)

    def recv(self, size: int) -> bytes:
        """``socket.recv`` within the time left."""
        self.wait_left()
        data: bytes = self.sock.recv(size)
        return data

    def __getattr__(self, name: str) -> Any:
        # The rest (settimeout, fileno, _decref_socketios when a file closes...) is the socket's.
        return getattr(self.sock, name)
