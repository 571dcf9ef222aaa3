"""One token file: which store the command line uses, where its folder is, how a file is read.

The standard library only, and no store object: HTTPie's start-up with a
cached token (issue 15) reads one token file through this module without
loading the store machinery of :mod:`.file` (locks, writes, failures).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

#: Names the store of every auth built without ``token_store=`` (see :mod:`.choose`).
STORE_ENV = "AUTH_PLUGINS_TOKEN_STORE"
CACHE_DIR_ENV = "AUTH_PLUGINS_CACHE_DIR"
CACHE_SWITCH_ENV = "AUTH_PLUGINS_TOKEN_CACHE"
#: Values of ``AUTH_PLUGINS_TOKEN_CACHE`` that keep the command line's tokens in memory.
CACHE_OFF = frozenset({"off", "0", "false", "no"})
#: The folder's name under the user's cache folder.
APP_NAME = "auth-plugins"
#: The largest token file read: a token is at most 16 KiB, its file a little more.
MAX_FILE_BYTES = 64 * 1024


def command_line_uses_files() -> bool:
    """Do HTTPie and the ``auth-plugins`` command keep tokens in files here?

    ``AUTH_PLUGINS_TOKEN_STORE=file``, or that variable unset and the cache not
    switched off (``AUTH_PLUGINS_TOKEN_CACHE=off``).
    """
    spec = os.environ.get(STORE_ENV, "").strip()
    if spec:
        return spec.lower() == "file"
    return os.environ.get(CACHE_SWITCH_ENV, "").strip().lower() not in CACHE_OFF


def cache_folder() -> Path:
    """``$AUTH_PLUGINS_CACHE_DIR``, else the platform's user cache folder for auth-plugins."""
    return Path(os.environ.get(CACHE_DIR_ENV) or default_cache_dir()).expanduser()


def token_file_name(key: Sequence[str]) -> str:
    """The file name of the token of ``key`` (vendor, base URL, user name)."""
    # A hash keeps file names short and free of odd characters; it is made
    # of the key only, which holds no secret.
    digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:32]
    return f"{key[0]}-{digest}.json"


def read_token_record(path: Path, key: Sequence[str]) -> Any:
    """The token record in the file at ``path``, which must be ``key``'s.

    Raises ``FileNotFoundError`` when there is none, and ``OSError`` or
    ``ValueError`` (saying why) for a file that cannot be used.
    """
    data = read_private_json(path)
    if not isinstance(data, dict) or data.get("key") != list(key):
        raise ValueError("it is not this key's token")
    return data.get("token")


def read_private_json(path: Path) -> Any:
    """Read a JSON token file that must be this user's and private (refused otherwise)."""
    content = read_private(path, MAX_FILE_BYTES, "a token file")
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def read_private(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of this user's private regular file (else ``ValueError`` why)."""
    # O_NONBLOCK: a named pipe put there opens at once (and is refused below)
    # instead of waiting for a writer for ever; regular files ignore it.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        # Checked on the descriptor, before it becomes a file object (which a
        # folder cannot be): what is checked is what is read.
        problem = refusal(fd)
        if problem:
            raise ValueError(problem)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        content = file.read(limit + 1)
    if len(content) > limit:
        raise ValueError(f"larger than {what} can be ({limit} bytes)")
    return content


def refusal(fd: int) -> str:
    """Why the open file ``fd`` is not this user's private regular file ("" if it is)."""
    if os.name != "posix":
        return ""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return "group or others can read it, or it is not yours"
    return ""


def default_cache_dir() -> str:
    """platformdirs' user cache folder for auth-plugins."""
    found = xdg_cache_dir()
    if found is not None:
        return found
    import platformdirs

    return platformdirs.user_cache_dir(APP_NAME, appauthor=False)


def xdg_cache_dir() -> Optional[str]:
    """The plain Linux case of platformdirs' answer, or ``None`` for anything else.

    Importing platformdirs costs HTTPie's start-up more than reading a cached
    token (issue 15). On Linux (not Android) with ``XDG_CACHE_HOME`` unset or
    empty and an absolute ``HOME``, or ``XDG_CACHE_HOME`` absolute, every
    platformdirs version answers as below; other cases ask platformdirs, and a
    test compares both answers.
    """
    if not sys.platform.startswith("linux") or hasattr(sys, "getandroidapilevel"):
        return None
    if os.environ.get("ANDROID_DATA") or os.environ.get("ANDROID_ROOT"):
        return None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg:
        return os.path.join(xdg, APP_NAME) if os.path.isabs(xdg) else None
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):
        return None
    return os.path.join(os.path.expanduser("~/.cache"), APP_NAME)
