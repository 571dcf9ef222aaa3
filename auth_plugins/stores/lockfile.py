"""One process at a time per key, across processes: a lock file that exists only while held.

The design (POSIX): the lock file of a key is created when a process takes
the lock and unlinked by that process *before* it lets go of it, so a cache
of 10,000 users holds 10,000 token files, not 20,000 files. Unlinking a lock
file that others may be waiting on is safe because of a check after taking
it: a process that got ``flock`` on a file checks that the path still names
that same file (device and inode); if the holder unlinked it meanwhile, it
lets go and tries again on the new file. So at most one process holds the
lock of a path at a time, whoever unlinks it. A process killed while holding
it leaves a file that anyone may take (the system dropped its ``flock``) and
that ``auth-plugins logout`` removes.

Opening never follows a symbolic link (``O_NOFOLLOW``: a link planted at the
lock path is refused, never truncated or created through), and a lock file
that belongs to another user is refused with a clear error instead of being
waited on. Elsewhere (Windows) the ``filelock`` package does the locking.
Not ``filelock`` on POSIX: how it opens a lock file (following a link or
not, unlinking it or not) has changed between its versions, and none of them
checks the file's owner, so pinning a version would not give all of the above.
This module imports only the standard library, and ``filelock`` only there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import AuthPluginError, ConfigError

#: How often a waiting process tries again (seconds).
POLL_INTERVAL = 0.05
#: Where to point someone whose cache folder is not private.
FIX = "set AUTH_PLUGINS_CACHE_DIR to a private folder of yours"


@contextlib.contextmanager
def hold(path: Path, timeout: float) -> Iterator[None]:
    """Hold the lock of ``path`` (:class:`AuthPluginError` after ``timeout`` seconds)."""
    if os.name != "posix":  # pragma: no cover - only the POSIX design is tested here
        with _portable(path, timeout):
            yield
        return
    fd = _take(path, timeout)
    try:
        yield
    finally:
        # Unlinked while still held: see the module's docstring for why this is safe.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _take(path: Path, timeout: float) -> int:
    import fcntl  # POSIX only

    deadline = time.monotonic() + timeout
    # Bounded: every round either returns, raises, or sleeps towards the deadline.
    while True:
        fd = _open_own(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise AuthPluginError(
                    f"another process has held the token lock {path} for {timeout:.0f}s; "
                    "if none is running, delete that file"
                ) from None
            time.sleep(POLL_INTERVAL)
            continue
        except BaseException:
            os.close(fd)
            raise
        held = os.fstat(fd)
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return fd
        # The previous holder unlinked this file as it let go: take the new one.
        os.close(fd)


def _open_own(path: Path) -> int:
    """Open (or create, 0600) the lock file, refusing links and files that are not ours."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"the token lock {path} is a symbolic link, which is never followed; "
                f"remove it, or {FIX}"
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ConfigError(
                f"cannot open the token lock {path} ({exc.strerror}): another user may own "
                f"it; remove it, or {FIX}"
            ) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise ConfigError(
            f"the token lock {path} is not a file of yours (owner uid {info.st_uid}); "
            f"remove it, or {FIX}"
        )
    return fd


@contextlib.contextmanager
def _portable(path: Path, timeout: float) -> Iterator[None]:  # pragma: no cover
    import filelock

    try:
        with filelock.FileLock(str(path), timeout=timeout, mode=0o600):
            yield
    except filelock.Timeout:
        raise AuthPluginError(
            f"another process has held the token lock {path} for {timeout:.0f}s; "
            "if none is running, delete that file"
        ) from None
