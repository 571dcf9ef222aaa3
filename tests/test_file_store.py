"""The on-disk token store: private files, atomic writes, keys, bad files, locks, sharing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import filelock
import pytest
import requests
from helpers import Workers, run_threads

from auth_plugins import AuthPluginError, ConfigError, FileTokenStore, MemoryTokenStore, TeamUpAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)
from auth_plugins.stores import TokenKey, token_file, token_store_from_env
from auth_plugins.stores import file as stores_module
from auth_plugins.tokens import Token

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def store(cache: Path) -> FileTokenStore:
    return FileTokenStore(directory=cache)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def token_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


def login_and_call(auth: TeamUpAuth) -> None:
    response = requests.get(f"{auth.base_url}/customers", auth=auth, timeout=10)
    assert response.status_code == 200, response.text


# -- files ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_umask")
def test_folder_0700_and_files_0600_whatever_the_umask(store: FileTokenStore, cache: Path) -> None:
    with store.lock(KEY):
        store.save(KEY, Token("secret-token"))
    assert mode(cache) == 0o700
    files = list(cache.iterdir())
    assert {path.name.split(".")[-1] for path in files} == {"json", "index"}
    for path in files:
        assert mode(path) == 0o600, path


def test_an_existing_loose_folder_of_ours_is_tightened(store: FileTokenStore, cache: Path) -> None:
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    store.save(KEY, Token("t"))
    assert mode(cache) == 0o700


def test_writes_replace_the_file_whole(
    store: FileTokenStore, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(KEY, Token("first"))
    [path] = token_files(cache)
    first_inode = path.stat().st_ino
    store.save(KEY, Token("second"))
    # A new file renamed over the old one, not the old one rewritten in place.
    assert path.stat().st_ino != first_inode
    assert list(cache.glob(".*.tmp")) == []

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="AUTH_PLUGINS_CACHE_DIR"):
        store.save(KEY, Token("third"))
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "second"
    assert list(cache.glob(".*.tmp")) == []


def test_file_holds_the_key_and_token_only(
    sandbox: Sandbox, store: FileTokenStore, cache: Path
) -> None:
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        token_store=store,
    )
    with auth:
        login_and_call(auth)
    [path] = token_files(cache)
    text = path.read_text()
    data = json.loads(text)
    assert set(data) == {"key", "token"}
    assert data["key"] == ["teamup", sandbox.teamup_url, DEMO_TEAMUP_USERNAME]
    assert auth.token is not None
    assert data["token"]["access_token"] == auth.token.access_token
    assert DEMO_TEAMUP_PASSWORD not in text
    assert DEMO_TEAMUP_DIRECT_AUTH_KEY not in text
    assert DEMO_TEAMUP_USERNAME not in path.name


# -- keys ----------------------------------------------------------------------------------


def test_keyed_by_vendor_base_url_and_user(store: FileTokenStore) -> None:
    keys = [
        KEY,
        KEY._replace(vendor="up2money"),
        KEY._replace(base_url="http://127.0.0.1:9/teamup/api/v2"),
        KEY._replace(username="bob@example.com"),
    ]
    for number, key in enumerate(keys):
        store.save(key, Token(f"token-{number}"))
    assert sorted(store.keys()) == sorted(keys)
    for number, key in enumerate(keys):
        loaded = store.load(key)
        assert loaded is not None
        assert loaded.access_token == f"token-{number}"


def test_the_password_is_not_part_of_the_key(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth], store: FileTokenStore
) -> None:
    login_and_call(teamup_auth(token_store=store))
    # Same user, another password: the stored token is found, no login is tried.
    login_and_call(teamup_auth(password="a-different-password", token_store=store))
    assert sandbox.login_attempts("teamup") == 1


# -- bad files -----------------------------------------------------------------------------


def _stored_path(store: FileTokenStore, teamup_auth: Callable[..., TeamUpAuth]) -> Path:
    login_and_call(teamup_auth(token_store=store))
    [path] = token_files(store.directory)
    return path


def test_corrupt_file_is_ignored_with_a_warning_and_replaced(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth], store: FileTokenStore
) -> None:
    path = _stored_path(store, teamup_auth)
    path.write_text('{"key": ["teamup", "trunc')
    with pytest.warns(UserWarning, match="ignoring token cache file .* replaced at the next login"):
        login_and_call(teamup_auth(token_store=store))
    assert sandbox.logins("teamup") == 2
    assert json.loads(path.read_text())["token"]["access_token"]
    assert mode(path) == 0o600


def test_file_others_can_read_is_ignored_and_replaced_private(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth], store: FileTokenStore
) -> None:
    path = _stored_path(store, teamup_auth)
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="group or others can read it"):
        login_and_call(teamup_auth(token_store=store))
    assert sandbox.logins("teamup") == 2
    assert mode(path) == 0o600


def test_symlink_in_place_of_the_file_is_not_followed(
    store: FileTokenStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"key": list(KEY), "token": Token("planted").to_dict()}))
    elsewhere.chmod(0o600)
    store.save(KEY, Token("real"))
    [path] = token_files(store.directory)
    path.unlink()
    path.symlink_to(elsewhere)
    with pytest.warns(UserWarning, match="ignoring token cache file"):
        assert store.load(KEY) is None


def test_folder_that_cannot_be_made_names_the_settings(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = FileTokenStore(directory=blocker / "cache")
    with pytest.raises(ConfigError, match=r"AUTH_PLUGINS_CACHE_DIR.*AUTH_PLUGINS_TOKEN_CACHE=off"):
        store.save(KEY, Token("t"))


# -- locks and sharing ---------------------------------------------------------------------


def test_threads_with_an_empty_store_make_one_login(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth], store: FileTokenStore
) -> None:
    sandbox.teamup.config.login_delay = 0.2
    auths = [teamup_auth(token_store=store) for _ in range(6)]
    workers = Workers()
    for auth in auths:
        workers.start(login_and_call, auth)
    workers.join()  # fails on a hung thread or one that raised
    assert sandbox.logins("teamup") == 1


SHARED_LOGIN = """
import sys, requests
from auth_plugins import FileTokenStore, TeamUpAuth
auth = TeamUpAuth(token_store=FileTokenStore(directory=sys.argv[1]))
response = requests.get(auth.base_url + "/customers", auth=auth, timeout=30)
print(response.status_code)
"""


def test_processes_sharing_a_file_store_make_one_login(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.teamup.config.login_delay = 0.5
    env = {
        **os.environ,
        "TEAMUP_BASE_URL": sandbox.teamup_url,
        "TEAMUP_DIRECT_AUTH_KEY": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "TEAMUP_USERNAME": DEMO_TEAMUP_USERNAME,
        "TEAMUP_PASSWORD": DEMO_TEAMUP_PASSWORD,
    }
    shared = tmp_path / "shared-tokens"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SHARED_LOGIN, str(shared)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert stdout.strip() == "200"
    assert sandbox.logins("teamup") == 1
    assert sandbox.api_calls("teamup") == 3


def test_lock_is_reentrant_in_the_thread_holding_it(
    store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stores_module, "LOCK_TIMEOUT", 1.0)
    # Not re-entrant, the second lock() would wait out LOCK_TIMEOUT and raise.
    with store.lock(KEY), store.lock(KEY):
        store.save(KEY, Token("t"))
        loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "t"
    # And released fully afterwards: another thread, and another holder of the file, get it.
    took: list[bool] = []

    def take() -> None:
        with store.lock(KEY):
            took.append(True)

    run_threads(1, take, timeout=30)  # a lock left held fails it (LOCK_TIMEOUT, then raise)
    assert took == [True]
    lock_path = store.directory / token_files(store.directory)[0].with_suffix(".lock").name
    with filelock.FileLock(str(lock_path), timeout=0.5) as elsewhere:
        assert elsewhere.is_locked


def test_lock_held_elsewhere_too_long_is_a_clear_error(
    store: FileTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stores_module, "LOCK_TIMEOUT", 0.2)
    store.save(KEY, Token("t"))
    lock_path = token_files(store.directory)[0].with_suffix(".lock")
    held_elsewhere = filelock.FileLock(str(lock_path))  # as another process would
    refused = pytest.raises(AuthPluginError, match=r"held the token lock .* delete that file")
    with held_elsewhere, refused, store.lock(KEY):
        pass


def test_no_lock_file_is_left_once_the_lock_is_let_go(store: FileTokenStore, cache: Path) -> None:
    with store.lock(KEY):
        assert list(cache.glob("*.lock")) != []
        store.save(KEY, Token("t"))
    assert list(cache.glob("*.lock")) == []


def test_a_lock_file_unlinked_by_its_holder_is_not_taken_by_a_waiter(
    store: FileTokenStore, cache: Path
) -> None:
    # A waiter that opened the old file before the holder unlinked it must not
    # take it: the path then names a new file, and only one holder may exist.
    from auth_plugins.stores import lockfile

    lock_path = store._side_path(KEY, "lock")
    cache.mkdir(mode=0o700)
    held = 0
    inside = threading.Event()
    release = threading.Event()
    results: list[int] = []

    def holder() -> None:
        with lockfile.hold(lock_path, 10):
            inside.set()
            assert release.wait(10)

    def waiter() -> None:
        nonlocal held
        with lockfile.hold(lock_path, 10):
            held += 1
            results.append(held)
            held -= 1

    workers = Workers()
    workers.start(holder)
    assert inside.wait(10)
    for _ in range(4):
        workers.start(waiter)
    release.set()
    workers.join()  # fails on a hung thread or one that raised
    assert results == [1, 1, 1, 1]
    assert list(cache.glob("*.lock")) == []


def test_listing_reads_the_index_not_every_file(store: FileTokenStore, cache: Path) -> None:
    keys = [KEY._replace(username=f"user{n}") for n in range(20)]
    for key in keys:
        store.save(key, Token("t"))
        store.save(key, Token("t2"))  # a refresh adds no index line
    assert len((cache / "keys.index").read_text().splitlines()) == 20
    # A token file the index does not name (an older version wrote it) is read instead.
    (cache / "keys.index").write_text("")
    assert store.keys() == sorted(keys)
    # A line for a token that is gone, or a forged one, lists nothing.
    store.delete(keys[0])
    with open(cache / "keys.index", "a") as index:
        index.write(json.dumps(list(keys[0])) + "\n" + json.dumps(["x", "y", "z"]) + "\n")
    assert store.keys() == sorted(keys[1:])


def test_a_request_served_from_a_stored_token_takes_no_lock(
    sandbox: Sandbox, cache: Path, tmp_path: Path
) -> None:
    # Processes sharing the folder must not pay for the lock (nor import a lock
    # library) when the stored token is good: the first look is lock-free.
    code = (
        "import sys, requests\n"
        "from auth_plugins import FileTokenStore, TeamUpAuth\n"
        "store = FileTokenStore(sys.argv[1])\n"
        "auth = TeamUpAuth(sys.argv[2], sys.argv[3], direct_auth_key=sys.argv[4],\n"
        "                  base_url=sys.argv[5], token_store=store)\n"
        "response = requests.get(sys.argv[5] + '/customers', auth=auth, timeout=10)\n"
        "loaded = [m for m in ('filelock', 'auth_plugins.stores.lockfile') if m in sys.modules]\n"
        "print(response.status_code, len(response.history), loaded)\n"
    )
    args = [
        str(cache),
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        DEMO_TEAMUP_DIRECT_AUTH_KEY,
        sandbox.teamup_url,
    ]

    def child() -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    # The first process logs in (under the lock), the second finds the token.
    assert child() == "200 1 ['auth_plugins.stores.lockfile']"
    assert child() == "200 0 []"
    assert sandbox.logins("teamup") == 1


# -- logout and settings -------------------------------------------------------------------


def test_clear_deletes_one_vendors_tokens_or_all(store: FileTokenStore, cache: Path) -> None:
    store.save(KEY, Token("t1"))
    store.save(KEY._replace(username="bob"), Token("t2"))
    store.save(KEY._replace(vendor="teamup-eu"), Token("t3"))
    store.save(KEY._replace(vendor="up2money"), Token("t4"))
    # An unreadable one and a temporary file a crash left: both hold tokens, both go.
    store._path(KEY._replace(username="carol")).write_text("{}")
    store._path(KEY._replace(username="carol")).chmod(0o644)
    (cache / f".{store._path(KEY).stem}.abc123.tmp").write_text("half")

    assert store.clear("teamup") == 3
    remaining = store.keys()
    assert sorted(key.vendor for key in remaining) == ["teamup-eu", "up2money"]
    assert list(cache.glob(".*.tmp")) == []
    assert store.clear() == 2
    assert token_files(cache) == []
    assert store.clear() == 0


def test_store_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_CACHE_DIR", str(tmp_path / "here"))
    store = token_store_from_env()
    assert isinstance(store, FileTokenStore)
    assert store.directory == tmp_path / "here"
    for off in ("off", "OFF", "0", "false", "no"):
        monkeypatch.setenv("AUTH_PLUGINS_TOKEN_CACHE", off)
        assert isinstance(token_store_from_env(), MemoryTokenStore)
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_CACHE", "on")
    assert isinstance(token_store_from_env(), FileTokenStore)


def test_default_folder_is_the_platform_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("AUTH_PLUGINS_CACHE_DIR")
    store = FileTokenStore()
    assert store.directory == Path(platformdirs.user_cache_dir("auth-plugins", appauthor=False))
    assert "FileTokenStore" in repr(store)


@pytest.mark.parametrize("home", [None, "", "/home/alice", "/home/alice/", "/", "relative"])
@pytest.mark.parametrize(
    "xdg", [None, "", "/x/cache", "/x/cache/", "relative/cache", "  ", "/x/a b "]
)
def test_default_folder_read_without_platformdirs_is_what_platformdirs_says(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None
) -> None:
    """The Linux shortcut answers as platformdirs does, or leaves the question to it."""
    import platformdirs

    for name, value in (("XDG_CACHE_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    expected = platformdirs.user_cache_dir("auth-plugins", appauthor=False)
    shortcut = token_file.xdg_cache_dir()
    # An absolute XDG_CACHE_HOME decides; unset or empty, an absolute HOME does.
    plain = xdg.startswith("/") if xdg else (home or "").startswith("/")
    assert shortcut == (expected if sys.platform.startswith("linux") and plain else None)
    assert token_file.default_cache_dir() == expected


@pytest.mark.parametrize(
    "elsewhere",
    ["darwin", "win32", "android-api", "ANDROID_DATA", "ANDROID_ROOT"],
)
def test_the_shortcut_leaves_every_other_platform_to_platformdirs(
    monkeypatch: pytest.MonkeyPatch, elsewhere: str
) -> None:
    """macOS, Windows and Android (Linux underneath: its API level, or its variables alone)."""
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/cache")
    monkeypatch.setattr(sys, "platform", "linux")
    assert token_file.xdg_cache_dir() == "/x/cache/auth-plugins"  # the plain case, first
    if elsewhere.startswith("ANDROID_"):
        monkeypatch.setenv(elsewhere, "/system")
    elif elsewhere == "android-api":
        monkeypatch.setattr(sys, "getandroidapilevel", lambda: 34, raising=False)
    else:
        monkeypatch.setattr(sys, "platform", elsewhere)
    assert token_file.xdg_cache_dir() is None


def test_default_folder_on_windows_has_no_author_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    r"""``%LOCALAPPDATA%\auth-plugins\Cache``, not ``...\auth-plugins\auth-plugins\Cache``."""
    import platformdirs
    import platformdirs.windows

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    local = "/Users/alice/AppData/Local"  # what Windows answers for CSIDL_LOCAL_APPDATA
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: local)
    assert token_file.default_cache_dir() == os.path.join(local, "auth-plugins", "Cache")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the shortcut is Linux's")
def test_default_folder_on_linux_does_not_import_platformdirs(tmp_path: Path) -> None:
    """HTTPie pays for every module a cached token needs (issue 15): platformdirs is not one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_PLUGINS_", "XDG_"))}
    env["HOME"] = str(tmp_path)
    script = (
        "import sys; from auth_plugins import FileTokenStore; "
        "print(FileTokenStore().directory, 'platformdirs' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == [str(tmp_path / ".cache" / "auth-plugins"), "False"]
