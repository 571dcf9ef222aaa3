"""The file store's index of keys (``keys.index``) and its lock files, module by module.

:meth:`FileTokenStore.keys` falls back to reading every token file when the
index names nothing, so a broken index only makes listing slower there: these
tests read the index itself. Files are real ones in ``tmp_path``; another
process holding a lock is a real process. Like ``test_cache_ownership.py``,
they run as root, who can give a file to another user (``os.chown``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from test_file_store import permissive_umask  # noqa: F401  (a fixture)

import auth_plugins
from auth_plugins import AuthPluginError, ConfigError, FileTokenStore
from auth_plugins.stores import TokenKey, lockfile
from auth_plugins.stores.index import MAX_INDEX_BYTES, add_to_index, prune_index, read_index
from auth_plugins.tokens import Token

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")
BOB = KEY._replace(username="bob@example.com")
EU = KEY._replace(vendor="teamup-eu")
UP = TokenKey("up2money", "https://api.up2money.com", "carol")
#: Another user: "nobody" on most systems.
OTHER = 65534
FIX = "set AUTH_PLUGINS_CACHE_DIR to a private folder of yours"
#: The folder holding the ``auth_plugins`` under test (a child process imports it from there).
SOURCE_ROOT = Path(auth_plugins.__file__).resolve().parents[1]


def line(key: TokenKey) -> bytes:
    """The index's line for ``key``."""
    return (json.dumps(list(key)) + "\n").encode()


def write_index(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


@pytest.fixture
def index(tmp_path: Path) -> Path:
    return tmp_path / "keys.index"


# -- adding and reading ----------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_umask")
def test_keys_added_are_read_back_one_json_line_each_in_a_private_file(index: Path) -> None:
    assert list(read_index(index)) == []  # no index yet: nothing, no error
    add_to_index(index, KEY)
    add_to_index(index, BOB)
    assert index.read_bytes() == (
        b'["teamup", "https://goteamup.com/api/v2", "alice@example.com"]\n'
        b'["teamup", "https://goteamup.com/api/v2", "bob@example.com"]\n'
    )
    assert mode(index) == 0o600  # whatever the umask
    assert list(read_index(index)) == [KEY, BOB]


@pytest.mark.parametrize("private_mode", [0o600, 0o400, 0o700])
def test_an_index_only_its_owner_can_use_is_read(index: Path, private_mode: int) -> None:
    write_index(index, line(KEY) + line(EU), private_mode)
    assert list(read_index(index)) == [KEY, EU]


@pytest.mark.parametrize("loose_mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o666])
def test_an_index_others_can_read_or_write_is_neither_read_nor_added_to(
    index: Path, loose_mode: int
) -> None:
    # Someone who could write it could name keys; someone who could read it learns users.
    write_index(index, line(KEY), loose_mode)
    assert list(read_index(index)) == []
    add_to_index(index, BOB)
    assert index.read_bytes() == line(KEY)
    assert mode(index) == loose_mode


def test_an_index_of_another_user_is_neither_read_nor_added_to(index: Path) -> None:
    write_index(index, line(KEY))
    os.chown(index, OTHER, OTHER)
    assert list(read_index(index)) == []
    add_to_index(index, BOB)
    assert index.read_bytes() == line(KEY)


def test_a_link_at_the_index_path_is_neither_read_nor_written_through(
    index: Path, tmp_path: Path
) -> None:
    elsewhere = write_index(tmp_path / "elsewhere", line(KEY))
    index.symlink_to(elsewhere)
    assert list(read_index(index)) == []
    add_to_index(index, BOB)
    assert elsewhere.read_bytes() == line(KEY)
    assert index.is_symlink()
    # A link to a file that does not exist is not created through either.
    index.unlink()
    index.symlink_to(tmp_path / "created")
    add_to_index(index, BOB)
    assert not (tmp_path / "created").exists()
    assert list(read_index(index)) == []


def test_an_index_up_to_64_mib_is_read_and_a_bigger_one_is_ignored(index: Path) -> None:
    assert MAX_INDEX_BYTES == 64 * 1024 * 1024
    # One key, padded with blanks (valid JSON) to the size under test.
    key_line = line(KEY).rstrip(b"\n")
    write_index(index, key_line + b" " * (MAX_INDEX_BYTES - len(key_line) - 1) + b"\n")
    assert index.stat().st_size == MAX_INDEX_BYTES
    assert list(read_index(index)) == [KEY]
    write_index(index, key_line + b" " * (MAX_INDEX_BYTES - len(key_line)) + b"\n")
    assert index.stat().st_size == MAX_INDEX_BYTES + 1
    assert list(read_index(index)) == []


def test_a_line_a_crash_cut_short_is_skipped_and_the_others_are_read(index: Path) -> None:
    # A process killed half way through its write, then another one's append.
    cut = line(BOB)[:25]
    write_index(index, line(KEY) + cut + line(UP) + line(EU))
    assert list(read_index(index)) == [KEY, EU]


def test_a_line_nested_too_deeply_to_parse_is_skipped_and_the_others_are_read(
    index: Path,
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    write_index(index, line(KEY) + deep + line(EU))
    assert list(read_index(index)) == [KEY, EU]


def test_lines_that_are_not_three_strings_name_no_key(index: Path) -> None:
    others = [
        b'"abc"\n',  # three characters, not three strings
        b'{"vendor": 1, "base_url": 2, "username": 3}\n',
        b'["teamup", "https://goteamup.com/api/v2"]\n',
        b'["teamup", "https://goteamup.com/api/v2", "alice@example.com", "extra"]\n',
        b'["teamup", "https://goteamup.com/api/v2", 3]\n',
        b"null\n",
        b"7\n",
        b"   \n",
    ]
    write_index(index, b"".join(others) + line(KEY))
    assert list(read_index(index)) == [KEY]


def test_an_index_is_used_as_is_where_files_have_no_posix_modes(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Windows st_mode says nothing about who may read a file: the index is trusted.
    write_index(index, line(KEY), 0o644)
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        keys = list(read_index(index))
    assert keys == [KEY]


def test_processes_appending_at_once_leave_one_whole_line_per_key(
    index: Path, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from auth_plugins.stores import TokenKey\n"
        "from auth_plugins.stores.index import add_to_index\n"
        "for n in range(100):\n"
        "    add_to_index(Path(sys.argv[1]), TokenKey('v', 'https://u', f'{sys.argv[2]}-{n}'))\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(index), f"p{p}"],
            cwd=SOURCE_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(4)
    ]
    for child in children:
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 0, stderr
    expected = {TokenKey("v", "https://u", f"p{p}-{n}") for p in range(4) for n in range(100)}
    assert len(index.read_bytes().splitlines()) == 400
    keys = list(read_index(index))
    assert len(keys) == 400
    assert set(keys) == expected


# -- pruning at a logout ---------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_umask")
def test_a_vendors_logout_rewrites_the_index_with_the_other_keys_only(
    index: Path, tmp_path: Path
) -> None:
    cut = line(KEY)[:20]
    write_index(index, line(UP) + line(KEY) + line(EU) + cut + line(BOB) + line(UP))
    prune_index(index, "teamup")
    # Once each, sorted, damaged lines dropped; written whole, private.
    assert index.read_bytes() == (
        b'["teamup-eu", "https://goteamup.com/api/v2", "alice@example.com"]\n'
        b'["up2money", "https://api.up2money.com", "carol"]\n'
    )
    assert mode(index) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keys.index"]
    assert list(read_index(index)) == [EU, UP]


def test_a_logout_of_everyone_or_of_the_last_vendor_removes_the_index(index: Path) -> None:
    write_index(index, line(KEY) + line(UP))
    prune_index(index, None)
    assert not index.exists()
    write_index(index, line(KEY) + line(BOB))
    prune_index(index, "teamup")
    assert not index.exists()
    prune_index(index, "teamup")  # no index: nothing to do, nothing made
    assert not index.exists()


def test_the_rewrite_is_made_beside_the_index_not_in_the_system_temp_folder(
    index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rename replaces the index whole only within one file system, so the
    # temporary file must not go to the system's temp folder (here: unusable).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    write_index(index, line(KEY) + line(UP))
    prune_index(index, "teamup")
    assert index.read_bytes() == line(UP)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keys.index"]


# -- lock files ------------------------------------------------------------------------------


def hold_in_another_process(path: Path) -> subprocess.Popen[str]:
    """A child process holding the lock of ``path`` until its standard input closes."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from auth_plugins.stores import lockfile\n"
        "with lockfile.hold(Path(sys.argv[1]), 10):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        cwd=SOURCE_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "held\n"
    return child


def release(child: subprocess.Popen[str]) -> None:
    _, stderr = child.communicate("", timeout=30)
    assert child.returncode == 0, stderr


class Clock:
    """``lockfile``'s clock: time passes only when it sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.usefixtures("permissive_umask")
def test_a_lock_file_is_a_private_file_of_ours_while_held_and_gone_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "teamup-0123.lock"
    with lockfile.hold(path, 1):
        info = os.lstat(path)
        assert (info.st_mode & 0o777, info.st_uid, path.is_file()) == (0o600, os.getuid(), True)
    assert not path.exists()


@pytest.mark.parametrize(("timeout", "polls"), [(0.1, [lockfile.POLL_INTERVAL] * 2), (0.0, [])])
def test_a_waiter_polls_until_its_timeout_then_names_the_lock_held_elsewhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    timeout: float,
    polls: list[float],
) -> None:
    path = tmp_path / "teamup-0123.lock"
    holder = hold_in_another_process(path)
    try:
        clock = Clock()
        with monkeypatch.context() as patched:
            patched.setattr(lockfile, "time", clock)
            with pytest.raises(AuthPluginError) as raised, lockfile.hold(path, timeout):
                pass
        assert str(raised.value) == (
            f"another process has held the token lock {path} for 0s; "
            "if none is running, delete that file"
        )
        # Tried at once, then every POLL_INTERVAL, the last try at the deadline itself.
        assert clock.sleeps == polls
        assert path.exists()  # the holder's file, left to it
    finally:
        release(holder)
    with lockfile.hold(path, 10):  # let go: the lock is free again
        assert path.exists()
    assert not path.exists()


def test_a_folder_at_the_lock_path_is_the_stores_cache_folder_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = FileTokenStore(cache)
    store.save(KEY, Token("t"))
    lock_path = next(cache.glob("*.json")).with_suffix(".lock")
    lock_path.mkdir()
    with pytest.raises(IsADirectoryError) as raw, lockfile.hold(lock_path, 1):
        pass
    assert raw.value.filename == str(lock_path)
    with pytest.raises(ConfigError) as raised, store.lock(KEY):
        pass
    assert str(raised.value) == (
        f"cannot write to the token cache folder {cache} (Is a directory); set "
        "AUTH_PLUGINS_CACHE_DIR to a folder you can write, or AUTH_PLUGINS_TOKEN_CACHE=off "
        "to keep tokens in memory only"
    )
    assert lock_path.is_dir()


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_a_lock_file_the_system_will_not_open_points_to_another_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    # Root opens anything: the refusal an ordinary user would meet is simulated.
    path = tmp_path / "teamup-0123.lock"
    real_open = os.open

    def refusing_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path:
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(ConfigError) as raised, lockfile.hold(path, 1):
        pass
    assert str(raised.value) == (
        f"cannot open the token lock {path} ({os.strerror(code)}): another user may own it; "
        f"remove it, or {FIX}"
    )


def test_a_link_swapped_in_once_the_lock_is_taken_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone replaces the lock file by a link to it just after this process took
    # it: the check after taking it must see the link, not the file it points to.
    path = tmp_path / "teamup-0123.lock"
    moved = tmp_path / "moved-away"
    real_flock = fcntl.flock
    swaps: list[int] = []

    def flock_then_swap(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        if not swaps:
            swaps.append(fd)
            path.rename(moved)
            path.symlink_to(moved)

    monkeypatch.setattr(fcntl, "flock", flock_then_swap)
    with pytest.raises(ConfigError) as raised, lockfile.hold(path, 1):
        pass
    assert str(raised.value) == (
        f"the token lock {path} is a symbolic link, which is never followed; remove it, or {FIX}"
    )
    assert len(swaps) == 1
    assert path.is_symlink()
    assert moved.is_file()


def test_a_folder_named_like_the_index_fails_neither_listing_nor_logout(tmp_path: Path) -> None:
    """The index is best effort: whatever sits at its path, a logout still logs out."""
    store = FileTokenStore(tmp_path)
    store.save(KEY, Token("t"))
    (tmp_path / "keys.index").unlink()
    (tmp_path / "keys.index").mkdir()
    assert list(read_index(tmp_path / "keys.index")) == []
    assert store.keys() == [KEY]  # read from the token file instead
    assert store.clear() == 1
    assert store.keys() == []


def test_a_named_pipe_at_the_index_is_refused_at_once(index: Path) -> None:
    os.mkfifo(index, 0o600)
    found: list[list[TokenKey]] = []
    reader = threading.Thread(target=lambda: found.append(list(read_index(index))), daemon=True)
    reader.start()
    reader.join(timeout=10)
    alive = reader.is_alive()
    if alive:  # unblock the open so the thread ends, then fail
        os.close(os.open(index, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
    assert not alive, "read_index() waited on a named pipe"
    assert found == [[]]


def test_an_interrupted_rewrite_leaves_no_copy_of_the_index(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between writing the copy and renaming it: the copy (it names users) is removed."""
    write_index(index, line(KEY) + line(UP))

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prune_index(index, "up2money")
    assert sorted(p.name for p in index.parent.iterdir()) == ["keys.index"]
    assert list(read_index(index)) == [KEY, UP]  # untouched


def test_a_copy_of_the_index_a_killed_logout_left_is_removed_by_the_next_one(
    index: Path, tmp_path: Path
) -> None:
    """Killed between writing the copy (it names users) and renaming it: no handler runs,
    so the copy stays; its name is one the next logout, of any vendor, removes."""
    write_index(index, line(KEY) + line(UP))
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from auth_plugins.stores.index import prune_index\n"
        "os.replace = lambda src, dst: os._exit(0)  # killed just before the rename\n"
        "prune_index(Path(sys.argv[1]), 'up2money')\n"
        "sys.exit('the rename was never reached')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(index)], cwd=SOURCE_ROOT, check=True, timeout=60
    )
    [copy] = [path for path in tmp_path.iterdir() if path != index]
    assert copy.read_bytes() == line(KEY)
    assert list(read_index(index)) == [KEY, UP]  # untouched
    FileTokenStore(tmp_path).clear("teamup-eu")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keys.index"]


def test_logout_removes_a_copy_of_the_index_a_crash_left(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    store.save(KEY, Token("t"))
    leftover = tmp_path / ".keys.abc123.tmp"
    leftover.write_bytes(line(BOB))
    store.clear("up2money")  # any vendor's logout
    assert not leftover.exists()
    assert store.keys() == [KEY]


def test_a_logout_that_cannot_remove_a_token_says_which_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder this user may not write (root writes anyway, so the refusal is made here)."""
    cache = tmp_path / "cache"
    store = FileTokenStore(cache)
    store.save(KEY, Token("t"))
    token_file = next(cache.glob("*.json"))
    unlink = os.unlink

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith(".json"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.raises(ConfigError) as caught:
        store.clear()
    assert str(caught.value) == (
        f"cannot remove {token_file} (Permission denied); the token cache folder {cache} "
        "must be yours and writable, or set AUTH_PLUGINS_CACHE_DIR to one that is"
    )
    assert token_file.exists()
