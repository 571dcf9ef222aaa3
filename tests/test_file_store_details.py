"""FileTokenStore in detail: how the folder is made and checked, what a bad file says, the
size limit in bytes, listing from the index, attempt counts shared through files, logout.

Everything runs on real files in ``tmp_path``. The tests run as root (see
tests/test_cache_ownership.py), so permissions never refuse them anything: modes are
checked, not what the system would refuse an ordinary user.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from test_file_store import permissive_umask  # noqa: F401  (a fixture)

from auth_plugins import ConfigError, FileTokenStore, Token
from auth_plugins.stores import Failure, TokenKey, listing, token_file
from auth_plugins.stores import file as stores_module
from auth_plugins.stores.index import add_to_index, read_index

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")
BOB = KEY._replace(username="bob@example.com")
UP2MONEY = TokenKey("up2money", "https://api.up2money.com/v1", "alice@example.com")
#: The end of every message about a folder that cannot be written.
SETTINGS = (
    "set AUTH_PLUGINS_CACHE_DIR to a folder you can write, "
    "or AUTH_PLUGINS_TOKEN_CACHE=off to keep tokens in memory only"
)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def store(cache: Path) -> FileTokenStore:
    return FileTokenStore(directory=cache)


def mode(path: Path) -> int:
    """Permission bits, the special ones (setgid, sticky) included."""
    return stat.S_IMODE(os.lstat(path).st_mode)


def only_file(directory: Path, pattern: str) -> Path:
    [path] = directory.glob(pattern)
    return path


def caught_messages(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(warning.message) for warning in record]


class FixedClock:
    """Stands in for the ``time`` module the file store reads: ``time()`` is ``now``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


# -- the folder: made private, checked, never re-permissioned through a swap -----------------


def test_repr_names_the_folder(cache: Path) -> None:
    assert repr(FileTokenStore(cache)) == f"<FileTokenStore directory={str(cache)!r}>"


def test_a_folder_deep_under_missing_ones_is_made_with_its_parents(tmp_path: Path) -> None:
    cache = tmp_path / "home" / "alice" / ".cache" / "auth-plugins"
    store = FileTokenStore(cache)
    store.save(KEY, Token("t"))
    assert mode(cache) == 0o700
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "t"


@pytest.mark.usefixtures("permissive_umask")
def test_the_folder_is_private_from_the_moment_it_exists(
    cache: Path, store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made 0700, not made loose and tightened afterwards: no moment when others can enter."""
    modes_when_made: list[int] = []
    real_mkdir = os.mkdir

    def recording_mkdir(path: Any, mode: int = 0o777, *, dir_fd: Optional[int] = None) -> None:
        real_mkdir(path, mode, dir_fd=dir_fd)
        if Path(path) == cache:
            modes_when_made.append(stat.S_IMODE(os.lstat(cache).st_mode))

    monkeypatch.setattr(os, "mkdir", recording_mkdir)
    store.save(KEY, Token("t"))
    assert modes_when_made == [0o700]


def test_a_private_folder_is_left_exactly_as_it_is(cache: Path, store: FileTokenStore) -> None:
    """Only a loose folder is re-permissioned: a private one keeps its special bits too."""
    cache.mkdir()
    cache.chmod(0o2700)  # setgid, as in a folder shared with a group's tools
    store.save(KEY, Token("t"))
    assert mode(cache) == 0o2700
    assert store.load(KEY) is not None


@pytest.mark.parametrize("replacement", ["link", "file"])
def test_a_folder_swapped_after_its_check_is_never_re_permissioned(
    tmp_path: Path,
    cache: Path,
    store: FileTokenStore,
    monkeypatch: pytest.MonkeyPatch,
    replacement: str,
) -> None:
    """The loose folder is tightened through a descriptor opened without following links and
    only onto a folder: one swapped for a link or a file between the look and the open is
    refused, and what it was swapped for keeps its mode."""
    cache.mkdir()
    cache.chmod(0o755)
    target = tmp_path / "target"
    if replacement == "link":
        target.mkdir()
    else:
        target.write_text("someone's notes")
    target.chmod(0o755)
    real_lstat = os.lstat
    swaps: list[Path] = []

    def lstat_then_swap(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_lstat(path, *args, **kwargs)
        if Path(path) == cache and not swaps:
            cache.rename(tmp_path / "moved-away")
            if replacement == "link":
                cache.symlink_to(target)
            else:
                os.link(target, cache)
            swaps.append(cache)
        return info

    monkeypatch.setattr(os, "lstat", lstat_then_swap)
    with pytest.raises(ConfigError) as raised:
        store.save(KEY, Token("t"))
    monkeypatch.undo()
    assert swaps == [cache]
    assert str(raised.value) == (
        f"cannot write to the token cache folder {cache} (Not a directory); {SETTINGS}"
    )
    assert mode(target) == 0o755
    if replacement == "link":
        assert list(target.iterdir()) == []


@pytest.mark.usefixtures("permissive_umask")
def test_where_the_posix_checks_do_not_apply_the_folder_is_still_made_0700(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Elsewhere (Windows) the folder is only made: with its parents, 0700, and one already
    there is used. Simulated by ``os.name`` for the writes only."""
    cache = tmp_path / "AppData" / "Local" / "auth-plugins"
    store = FileTokenStore(cache)
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(os, "name", "nt")
        store.save(KEY, Token("first"))
        store.save(BOB, Token("second"))  # the folder is there now
    assert mode(cache) == 0o700
    assert store.keys() == [KEY, BOB]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (TimeoutError(), "TimeoutError"),  # no message from the system: the error's name
    ],
)
def test_a_failed_write_says_why_and_what_to_set(
    cache: Path,
    store: FileTokenStore,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
    shown: str,
) -> None:
    store.save(KEY, Token("kept"))

    def failing_fsync(fd: int) -> None:
        raise error

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ConfigError) as raised:
        store.save(KEY, Token("lost"))
    monkeypatch.undo()
    assert (
        str(raised.value) == f"cannot write to the token cache folder {cache} ({shown}); {SETTINGS}"
    )
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "kept"


# -- files that cannot be used: what the warning says ----------------------------------------


def load_warned(store: FileTokenStore, key: TokenKey) -> list[str]:
    """Load ``key`` (which must give nothing) and return the warnings it gave."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert store.load(key) is None
    return caught_messages(record)


def ignored(path: Path, reason: str) -> str:
    return (
        f"auth-plugins: ignoring token cache file {path} ({reason}); "
        "it will be replaced at the next login"
    )


@pytest.mark.parametrize(
    "content",
    [
        {"key": list(BOB), "token": Token("bobs-token").to_dict()},
        [list(KEY), Token("t").to_dict()],  # JSON, but no record at all
    ],
    ids=["another-keys-token", "not-a-record"],
)
def test_another_keys_token_in_this_keys_file_is_never_used(
    cache: Path, store: FileTokenStore, content: Any
) -> None:
    """Never send alice's request with someone else's token, whatever the file holds."""
    store.save(KEY, Token("alices-token"))
    path = only_file(cache, "*.json")
    path.write_text(json.dumps(content))
    assert load_warned(store, KEY) == [ignored(path, "it is not this key's token")]
    store.save(KEY, Token("fresh"))  # replaced at the next login, as the warning says
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "fresh"


def test_something_other_than_a_file_at_a_token_path_is_not_read(
    cache: Path, store: FileTokenStore
) -> None:
    """A named pipe there (a writer keeps it from blocking the open) is refused unread."""
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    path.unlink()
    os.mkfifo(path, 0o600)
    writer = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(writer, json.dumps({"key": list(KEY), "token": Token("piped").to_dict()}).encode())
        assert load_warned(store, KEY) == [ignored(path, "not a regular file")]
    finally:
        os.close(writer)


def test_a_named_pipe_nobody_writes_to_is_refused_at_once(
    cache: Path, store: FileTokenStore
) -> None:
    """Opening a pipe for reading waits for a writer: the store must not wait for ever."""
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    path.unlink()
    os.mkfifo(path, 0o600)
    outcome: list[list[str]] = []
    reader = threading.Thread(target=lambda: outcome.append(load_warned(store, KEY)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    alive = reader.is_alive()
    if alive:  # unblock the open so the thread ends, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
    assert not alive, "load() waited on a named pipe"
    assert outcome == [[ignored(path, "not a regular file")]]


def test_a_folder_at_a_token_path_is_refused_and_left_by_logout(
    cache: Path, store: FileTokenStore
) -> None:
    """Not read as a token; a save says what is in the way; a logout leaves it."""
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    path.unlink()
    path.mkdir()
    assert load_warned(store, KEY) == [ignored(path, "not a regular file")]
    assert store.keys() == []
    with pytest.raises(ConfigError) as raised:
        store.save(KEY, Token("t2"))
    assert f"cannot write to the token cache folder {cache} (Is a directory)" in str(raised.value)
    assert [p.name for p in cache.glob(".*.tmp")] == []
    store.save(BOB, Token("b"))
    assert store.clear() == 1  # bob's token; the folder is no token and stays
    assert path.is_dir()
    assert store.keys() == []


def test_a_token_file_that_cannot_be_used_is_reported_where_it_was_loaded(
    cache: Path, store: FileTokenStore
) -> None:
    """The warning points at the code that loaded the token, not into the store."""
    store.save(KEY, Token("t"))
    only_file(cache, "*.json").write_text('{"key": ["teamup", "trunc')
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert store.load(KEY) is None
    assert [warning.filename for warning in record] == [__file__]


@pytest.mark.parametrize("missing", ["O_NOFOLLOW", "O_NONBLOCK"])
def test_tokens_and_the_index_are_read_where_the_system_lacks_an_open_flag(
    cache: Path, store: FileTokenStore, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """Windows has neither flag: a token is still read, and the index added to, without it."""
    store.save(KEY, Token("t"))  # saved first: the lock file needs O_NOFOLLOW
    with monkeypatch.context() as windows:
        windows.delattr(os, missing)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the token is read, not ignored with a warning
            loaded = store.load(KEY)
        add_to_index(cache / stores_module.INDEX_NAME, BOB)
        listed = list(read_index(cache / stores_module.INDEX_NAME))
    assert loaded is not None
    assert loaded.access_token == "t"
    assert listed == [KEY, BOB]


def test_a_huge_token_file_is_refused_without_being_read_into_memory(tmp_path: Path) -> None:
    """Only the limit and one byte are read: an 8 GiB file costs no 8 GiB of memory."""
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(8 * 1024**3)  # sparse: no disk space taken
    path.chmod(0o600)
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from auth_plugins.stores.token_file import read_private_json\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))\n"
        "try:\n"
        "    read_private_json(Path(sys.argv[1]))\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "larger than a token file can be (65536 bytes)\n"


@pytest.mark.parametrize(
    ("content", "mode_bits", "reason"),
    [
        ("[" * 50_000, 0o600, "JSON nested too deeply"),
        ("{}", 0o644, "group or others can read it, or it is not yours"),
    ],
    ids=["nested-too-deeply", "others-can-read-it"],
)
def test_a_token_file_that_cannot_be_used_is_ignored_saying_why(
    cache: Path, store: FileTokenStore, content: str, mode_bits: int, reason: str
) -> None:
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    path.write_text(content)
    path.chmod(mode_bits)
    assert load_warned(store, KEY) == [ignored(path, reason)]


def test_the_size_limit_counts_bytes_not_characters(cache: Path, store: FileTokenStore) -> None:
    """A file of 40,000 two-byte characters is 80,000 bytes: over the 64 KiB limit."""
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    padded = {"key": list(KEY), "token": Token("t").to_dict(), "note": "é" * 40_000}
    path.write_text(json.dumps(padded, ensure_ascii=False), encoding="utf-8")
    assert len(path.read_text(encoding="utf-8")) < token_file.MAX_FILE_BYTES
    assert load_warned(store, KEY) == [
        ignored(path, "larger than a token file can be (65536 bytes)")
    ]


# -- refused logins ---------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FixedClock:
    fake = FixedClock(0.0)
    monkeypatch.setattr(stores_module, "time", fake)
    return fake


def test_a_failure_lasts_until_its_until_and_not_a_moment_more(
    store: FileTokenStore, clock: FixedClock
) -> None:
    """``until`` is the first moment logins may be tried again, as in every store."""
    store.save_failure(KEY, Failure("account_locked", 1000.0, "locked", status=423))
    clock.now = 999.5
    assert store.load_failure(KEY) == Failure("account_locked", 1000.0, "locked", status=423)
    clock.now = 1000.0
    assert store.load_failure(KEY) is None
    clock.now = 5000.0
    assert store.load_failure(KEY) is None


@pytest.mark.parametrize(
    "content",
    [
        {"key": list(BOB), "failure": Failure("rate_limited", 1000.0, "slow down").to_dict()},
        [list(KEY), Failure("rate_limited", 1000.0, "slow down").to_dict()],
    ],
    ids=["another-keys-record", "not-a-record"],
)
def test_another_keys_failure_record_is_ignored_with_a_warning(
    cache: Path, store: FileTokenStore, clock: FixedClock, content: Any
) -> None:
    store.save_failure(KEY, Failure("invalid_credentials", 1000.0, "bad login"))
    path = only_file(cache, "*.failure")
    path.write_text(json.dumps(content))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert store.load_failure(KEY) is None
    assert caught_messages(record) == [
        f"auth-plugins: ignoring failure record {path} (it is not this key's record)"
    ]
    assert [warning.filename for warning in record] == [__file__]  # where it was loaded


# -- login attempts, counted in a file every process shares ---------------------------------


def test_processes_sharing_the_folder_count_attempts_together(cache: Path) -> None:
    """Two stores on one folder (two processes) count in one file; a new window starts at 1."""
    first, second = FileTokenStore(cache), FileTokenStore(cache)
    counts = [
        first.count_attempt(KEY, 60.0, 6000.0),
        second.count_attempt(KEY, 60.0, 6001.0),
        first.count_attempt(KEY, 60.0, 6059.9),
    ]
    assert counts == [1, 2, 3]
    assert second.count_attempt(BOB, 60.0, 6030.0) == 1  # per key
    assert second.count_attempt(KEY, 60.0, 6060.0) == 1  # the next window
    assert first.count_attempt(KEY, 60.0, 6061.0) == 2
    assert first.count_attempt(KEY, 60.0, 9000.0) == 1  # windows skipped: still one


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "null",
        "[100, 7]",
        '{"window": 100}',
        '{"window": 100, "count": "7"}',
        '{"window": 100, "count": 7.5}',
        '{"window": 100, "count": null}',
    ],
)
def test_a_damaged_attempts_file_starts_the_count_again(
    cache: Path, store: FileTokenStore, content: str
) -> None:
    """Window 100 is the one now=6000 falls in: only the count field is wrong."""
    assert store.count_attempt(KEY, 60.0, 6000.0) == 1
    path = only_file(cache, "*.attempts")
    path.write_text(content)
    assert store.count_attempt(KEY, 60.0, 6001.0) == 1
    assert store.count_attempt(KEY, 60.0, 6002.0) == 2


# -- listing ----------------------------------------------------------------------------------


def test_listing_indexed_tokens_opens_no_token_file(
    store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [KEY._replace(username=f"user{number}") for number in range(5)]
    for key in keys:
        store.save(key, Token("t"))
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(Path(path).name)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    assert store.keys() == sorted(keys)
    assert opened == ["keys.index"]


def test_token_files_that_cannot_be_read_are_left_out_of_the_listing(
    tmp_path: Path, cache: Path, store: FileTokenStore
) -> None:
    """Files the index does not name are read; those that cannot be are skipped, no error."""
    store.save(KEY, Token("t"))
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps({"key": list(BOB), "token": Token("p").to_dict()}))
    planted.chmod(0o600)
    bad = {
        "truncated": '{"key": ["teamup", "trunc',
        "short-key": json.dumps({"key": ["teamup"], "token": {}}),
        "a-list": json.dumps([list(BOB)]),
        "no-key": json.dumps({}),
        "numbers": json.dumps({"key": [1, 2, 3]}),
        "a-string": json.dumps({"key": "abc"}),
        "nested": json.dumps({"key": [["a"], "b", "c"]}),
    }
    for name, text in bad.items():
        path = cache / f"teamup-{name}.json"
        path.write_text(text)
        path.chmod(0o600)
    (cache / "teamup-link.json").symlink_to(planted)  # never followed
    assert store.keys() == [KEY]


def test_a_link_at_an_indexed_tokens_path_is_not_listed(
    tmp_path: Path, cache: Path, store: FileTokenStore
) -> None:
    """The index names the key, but a link is never read as its token, so it is not listed."""
    store.save(KEY, Token("t"))
    path = only_file(cache, "*.json")
    elsewhere = tmp_path / "elsewhere.json"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    assert store.keys() == []


def test_a_token_file_a_logout_removes_while_listing_is_left_out(
    cache: Path, store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing with no index reads each file; one gone by then is skipped, not an error."""
    for key in (KEY, BOB):
        store.save(key, Token("t"))
    (cache / stores_module.INDEX_NAME).unlink()  # lost: every token file is read
    bobs = cache / token_file.token_file_name(BOB)
    read = read_index  # what listing reads the index with

    def logout_meanwhile(path: Path) -> Iterator[TokenKey]:
        bobs.unlink()  # after the folder was listed, before bob's file is read
        return read(path)

    monkeypatch.setattr(listing, "read_index", logout_meanwhile)
    assert store.keys() == [KEY]


# -- logout -----------------------------------------------------------------------------------


def test_logout_with_no_folder_removes_nothing_and_makes_none(cache: Path) -> None:
    store = FileTokenStore(cache)
    assert store.clear() == 0
    assert store.clear("teamup") == 0
    assert not cache.exists()


def test_one_vendors_logout_keeps_the_others_in_the_index(
    cache: Path, store: FileTokenStore
) -> None:
    for key in (KEY, BOB, UP2MONEY):
        store.save(key, Token("t"))
    assert store.clear("teamup") == 2
    assert store.keys() == [UP2MONEY]
    assert list(read_index(cache / stores_module.INDEX_NAME)) == [UP2MONEY]


CRASH_DURING_SAVE = """
import os, sys
from auth_plugins import FileTokenStore, Token
from auth_plugins.stores import TokenKey

def killed(src, dst):
    os._exit(9)  # the process dies between writing the new file and renaming it

os.replace = killed
FileTokenStore(sys.argv[1]).save(TokenKey(*sys.argv[2:5]), Token("half-saved"))
"""


def test_a_write_cut_short_by_a_crash_leaves_a_private_file_that_logout_removes(
    cache: Path, store: FileTokenStore
) -> None:
    store.save(UP2MONEY, Token("other vendor"))
    done = subprocess.run(
        [sys.executable, "-c", CRASH_DURING_SAVE, str(cache), *KEY],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr
    assert store.keys() == [UP2MONEY]
    before = {path.name for path in cache.iterdir()}
    [leftover] = before - {only_file(cache, "*.json").name, stores_module.INDEX_NAME}
    left = cache / leftover
    assert mode(left) == 0o600
    assert "half-saved" in left.read_text()
    assert store.clear("teamup") == 0  # no token file of teamup's, but its leftover goes
    assert {path.name for path in cache.iterdir()} == before - {leftover}
    assert store.keys() == [UP2MONEY]


def test_two_logouts_at_once_each_finish_their_work(
    cache: Path, store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token file the other logout removed first is skipped, and the rest still go."""
    for key in (KEY, BOB, UP2MONEY):
        store.save(key, Token("t"))
    first = cache / token_file.token_file_name(KEY)
    listed = Path.iterdir

    def other_logout_removes_one(directory: Path) -> Iterator[Path]:
        paths = sorted(listed(directory), key=lambda path: path != first)
        first.unlink()  # between this logout's listing and its unlink
        return iter(paths)

    with monkeypatch.context() as racing:
        racing.setattr(Path, "iterdir", other_logout_removes_one)
        removed = store.clear()
    assert removed == 2  # the other logout removed the third
    assert list(cache.iterdir()) == []


def test_a_folder_named_like_a_token_stops_no_logout_wherever_it_is_listed(
    cache: Path, store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left in place and skipped, even listed first (the order is the file system's)."""
    for key in (KEY, BOB):
        store.save(key, Token("t"))
    folder = cache / token_file.token_file_name(UP2MONEY)
    folder.mkdir()
    listed = Path.iterdir

    def folder_first(directory: Path) -> Iterator[Path]:
        return iter(sorted(listed(directory), key=lambda path: path != folder))

    with monkeypatch.context() as ordered:
        ordered.setattr(Path, "iterdir", folder_first)
        removed = store.clear()
    assert removed == 2
    assert list(cache.iterdir()) == [folder]
