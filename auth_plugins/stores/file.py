"""Tokens in files that several processes share (HTTPie runs, workers)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from ..core.errors import ConfigError
from ..core.tokens import Token
from .base import Failure, KeyLocks, TokenKey
from .memory import MemoryTokenStore
from .token_file import (
    CACHE_DIR_ENV,
    CACHE_SWITCH_ENV,
    cache_folder,
    read_private_json,
    read_token_record,
    token_file_name,
)

#: How long a process waits for another one that is logging in with the same key.
LOCK_TIMEOUT = 120.0
#: The folder's index of keys (see :meth:`FileTokenStore.keys`).
INDEX_NAME = "keys.index"


class FileTokenStore:
    """Tokens in files that several processes share (HTTPie runs, workers).

    ``directory`` defaults to ``$AUTH_PLUGINS_CACHE_DIR``, else the platform's
    user cache folder. The folder is made 0700 and each file 0600 from the
    start; files are written whole to a temporary file and renamed into place;
    a lock file per key makes two processes with an empty cache log in once.
    Files hold tokens only, never passwords. A file that cannot be read is
    ignored with a warning and replaced at the next login. A folder, file or
    lock file that is a symbolic link or belongs to another user is never
    followed or re-permissioned: a :class:`ConfigError` says so.
    """

    persistent = True

    def __init__(self, directory: Optional[os.PathLike[str] | str] = None) -> None:
        self.directory = cache_folder() if directory is None else Path(directory).expanduser()
        self._thread_locks = KeyLocks()
        #: Login counts when the folder cannot be written (a full disk).
        self._memory = MemoryTokenStore()

    # -- the store protocol -------------------------------------------------

    def load(self, key: TokenKey) -> Optional[Token]:
        """The stored token, or ``None`` when there is none or it cannot be used."""
        path = self._path(key)
        try:
            return Token.from_dict(read_token_record(path, key))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            warnings.warn(
                f"auth-plugins: ignoring token cache file {path} ({exc}); "
                "it will be replaced at the next login",
                stacklevel=2,
            )
            return None

    def save(self, key: TokenKey, token: Token) -> None:
        """Write the token for ``key`` atomically, readable by this user only."""
        path = self._path(key)
        new = not path.exists()
        self._write(path, {"key": list(key), "token": token.to_dict()})
        if new:
            # Only a key's first file is indexed (refreshes are not), so the index
            # grows with users, not with logins; logout compacts it.
            from .index import add_to_index  # a process that only reads tokens skips it

            add_to_index(self.directory / INDEX_NAME, key)

    def delete(self, key: TokenKey) -> None:
        """Remove the stored token for ``key``."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    @contextlib.contextmanager
    def lock(self, key: TokenKey, *, expiry: Optional[float] = None) -> Iterator[object]:
        """Hold this key's lock in this process (threads) and across processes (a lock file).

        ``expiry`` is not needed here: the system drops a dead process's file lock.
        The lock file exists only while the lock is held (see :mod:`.lockfile`).
        """
        from . import lockfile  # only a store that logs in pays for it

        self._ensure_directory()
        lock_path = self._side_path(key, "lock")
        with self._thread_locks.held(key) as outermost:
            if not outermost:
                yield self
                return
            try:
                with lockfile.hold(lock_path, LOCK_TIMEOUT):
                    yield self
            except OSError as exc:
                if exc.filename is not None and Path(exc.filename) == lock_path:
                    raise self._unusable(exc) from None
                raise

    # -- refused logins and login counts, shared like the tokens -------------

    def load_failure(self, key: TokenKey) -> Optional[Failure]:
        """The refused login remembered for ``key``, while it lasts."""
        path = self._side_path(key, "failure")
        try:
            data = read_private_json(path)
            if not isinstance(data, dict) or data.get("key") != list(key):
                raise ValueError("it is not this key's record")
            failure = Failure.from_dict(data.get("failure"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            warnings.warn(f"auth-plugins: ignoring failure record {path} ({exc})", stacklevel=2)
            return None
        return failure if failure.until > time.time() else None

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        """Write the record beside the token file, as privately and atomically."""
        record = {"key": list(key), "failure": failure.to_dict()}
        self._write(self._side_path(key, "failure"), record)

    def clear_failure(self, key: TokenKey) -> None:
        """Remove the record of ``key``, if any."""
        with contextlib.suppress(FileNotFoundError):
            self._side_path(key, "failure").unlink()

    def count_attempt(self, key: TokenKey, window: float, now: float) -> int:
        """Count a login attempt in a file beside the token (call with the key's lock held)."""
        path = self._side_path(key, "attempts")
        number = int(now // window)
        try:
            data = read_private_json(path)
            count = data["count"] if data.get("window") == number else 0
            count = count if isinstance(count, int) else 0
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            count = 0
        try:
            self._write(path, {"window": number, "count": count + 1})
        except ConfigError:
            # A full disk must not stop logins; this process then counts alone.
            return self._memory.count_attempt(key, window, now)
        return count + 1

    # -- beyond the protocol: listing and logout ----------------------------

    def keys(self) -> list[TokenKey]:
        """The keys of every token file that can be read, sorted.

        Names come from the folder's index of keys, checked against the token
        files present: listing 10,000 tokens reads one file, not 10,000
        (:func:`.listing.folder_keys`).
        """
        from .listing import folder_keys  # only listing pays for it, not a request

        return folder_keys(self.directory)

    def clear(self, vendor: Optional[str] = None) -> int:
        """Delete stored tokens (one vendor's, or all); returns how many token files.

        Remembered refused logins, login counts, lock files and files that
        cannot be read go too: a logout leaves no token on disk
        (:func:`.listing.clear_folder`).
        """
        from .listing import clear_folder

        return clear_folder(self.directory, vendor)

    # -- helpers ------------------------------------------------------------

    def _path(self, key: TokenKey) -> Path:
        return self.directory / token_file_name(key)

    def _side_path(self, key: TokenKey, kind: str) -> Path:
        return self._path(key).with_suffix(f".{kind}")

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        """Write ``data`` as JSON to ``path``: whole (temporary file + rename), 0600."""
        self._ensure_directory()
        payload = json.dumps(data).encode()
        try:
            # mkstemp creates the file 0600 before anything is written to it.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp")
        except OSError as exc:
            raise self._unusable(exc) from None
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            # A reader sees the old file or the new one, never a half-written one.
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self._unusable(exc) from None
            raise

    def _unusable(self, exc: OSError) -> ConfigError:
        return ConfigError(
            f"cannot write to the token cache folder {self.directory} "
            f"({exc.strerror or type(exc).__name__}); set {CACHE_DIR_ENV} to a folder you can "
            f"write, or {CACHE_SWITCH_ENV}=off to keep tokens in memory only"
        )

    def _ensure_directory(self) -> None:
        """Make the folder 0700, or check the one there: ours, private, not a link.

        Another user who can write near the folder (a shared /tmp) could have
        made it first, or put a link there: such a folder is refused, never
        followed or re-permissioned. Only a folder of ours is ever tightened,
        through a descriptor opened without following links.
        """
        if os.name != "posix":  # pragma: no cover - the checks below are POSIX's
            try:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unusable(exc) from None
            return
        try:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # checked below, whoever made it
                os.mkdir(self.directory, 0o700)
            info = os.lstat(self.directory)
        except OSError as exc:
            raise self._unusable(exc) from None
        fix = f"set {CACHE_DIR_ENV} to a private folder of yours"
        if stat.S_ISLNK(info.st_mode):
            raise ConfigError(
                f"the token cache folder {self.directory} is a symbolic link, which is "
                f"never followed; remove it, or {fix}"
            )
        if not stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"the token cache folder {self.directory} is not a folder; {fix}")
        if info.st_uid != os.getuid():
            raise ConfigError(
                f"the token cache folder {self.directory} belongs to another user "
                f"(uid {info.st_uid}); {fix}"
            )
        if info.st_mode & 0o077:
            # Our own folder, made loose by hand or an old umask: tighten it. The
            # descriptor pins the folder checked above (a swap cannot redirect it).
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
            try:
                fd = os.open(self.directory, flags)
            except OSError as exc:
                raise self._unusable(exc) from None
            try:
                if os.fstat(fd).st_uid != os.getuid():
                    raise ConfigError(
                        f"the token cache folder {self.directory} changed owner; {fix}"
                    )
                os.fchmod(fd, 0o700)
            finally:
                os.close(fd)

    def __repr__(self) -> str:
        return f"<FileTokenStore directory={str(self.directory)!r}>"
