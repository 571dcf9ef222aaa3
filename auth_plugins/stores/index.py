"""The file store's index of keys: one JSON line per key, so listing reads one file.

The index only names keys; :meth:`FileTokenStore.keys` lists a key only when
that key's token file is there, so a line that is stale (the token was
deleted) or written by someone else names nothing. Lines are appended with
``O_APPEND`` in one ``write`` of well under ``PIPE_BUF`` bytes (a key is short),
so processes appending at once do not interleave; a line lost to a race only
means that one token file is read instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from .base import TokenKey
from .token_file import read_private, refusal

#: The largest index read (about 300,000 keys): a bigger one is ignored, files are read.
MAX_INDEX_BYTES = 64 * 1024 * 1024
#: How the index's rewrites begin (``.keys.XXXX.tmp``); a logout removes any a crash left.
TMP_PREFIX = ".keys."


def add_to_index(path: Path, key: TokenKey) -> None:
    """Append ``key`` to the index (best effort: a failure only makes listing slower)."""
    line = (json.dumps(list(key)) + "\n").encode()
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(OSError):
        fd = os.open(path, flags, 0o600)
        try:
            if _private(fd):
                os.write(fd, line)
        finally:
            os.close(fd)


def read_index(path: Path) -> Iterator[TokenKey]:
    """The keys the index names (nothing when it is missing, not private, or too big)."""
    content = _read(path)
    if content is None:
        return
    lines = content.splitlines()
    try:
        # One parse for the whole index (ten times faster than one per line)...
        entries = json.loads(b"[" + b",".join(line for line in lines if line.strip()) + b"]")
    except (ValueError, RecursionError):
        # ...and one per line when a line is damaged (a crash half way through a write).
        entries = []
        for line in lines:
            with contextlib.suppress(ValueError, RecursionError):
                entries.append(json.loads(line))
    for parts in entries:
        if (
            isinstance(parts, list)
            and len(parts) == 3
            and all(isinstance(part, str) for part in parts)
        ):
            yield TokenKey(*parts)


def prune_index(path: Path, vendor: Optional[str]) -> None:
    """Drop ``vendor``'s keys from the index (all keys: remove it), at a logout."""
    keep = sorted({key for key in read_index(path) if vendor is not None and key.vendor != vendor})
    # Best effort, as the appends are: whatever is in the way (a folder named
    # like the index, a read-only folder) must not fail the logout itself.
    if not keep:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    data = "".join(json.dumps(list(key)) + "\n" for key in keep).encode()
    with contextlib.suppress(OSError):
        # mkstemp makes the file 0600; the rename replaces the index whole.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, path)
        except BaseException:  # Ctrl-C too: the copy names users, so it must not stay
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _read(path: Path) -> Optional[bytes]:
    try:
        return read_private(path, MAX_INDEX_BYTES, "the index")
    except (OSError, ValueError):
        return None


def _private(fd: int) -> bool:
    """A regular file of this user's that only this user can read."""
    return not refusal(fd)
