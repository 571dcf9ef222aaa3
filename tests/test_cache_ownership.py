"""The token cache on a machine where another user can write nearby (a shared /tmp).

The tests run as root, who can give files to another user (``os.chown``) but
is not held back by permissions: they test the ownership and link checks,
not what the system would refuse an ordinary user.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auth_plugins import ConfigError, FileTokenStore
from auth_plugins.stores import TokenKey
from auth_plugins.stores import file as stores_module
from auth_plugins.tokens import Token

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")
#: Another user: "nobody" on most systems.
OTHER = 65534


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


def test_the_tests_can_give_files_away() -> None:
    # Not a skip: these tests need root (CI and ./dev test run as root).
    assert os.getuid() == 0, "tests/test_cache_ownership.py needs root to chown files"


def test_a_folder_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "theirs"
    target.mkdir()
    target.chmod(0o755)
    link = tmp_path / "cache"
    link.symlink_to(target)
    store = FileTokenStore(link)
    with pytest.raises(ConfigError, match=r"symbolic link.*AUTH_PLUGINS_CACHE_DIR"):
        store.save(KEY, Token("t"))
    assert list(target.iterdir()) == []
    assert mode(target) == 0o755


@pytest.mark.parametrize("folder_mode", [0o755, 0o700])
def test_a_folder_of_another_user_is_refused_and_left_alone(
    tmp_path: Path, folder_mode: int
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(folder_mode)
    os.chown(cache, OTHER, OTHER)
    store = FileTokenStore(cache)
    with pytest.raises(ConfigError) as raised:
        store.save(KEY, Token("t"))
    message = str(raised.value)
    assert str(cache) in message
    assert "another user" in message
    assert "AUTH_PLUGINS_CACHE_DIR" in message
    assert mode(cache) == folder_mode  # never re-permissioned
    assert list(cache.iterdir()) == []
    with pytest.raises(ConfigError, match="another user"), store.lock(KEY):
        pass


def test_a_link_at_the_lock_path_is_not_followed(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "cache")
    store.save(KEY, Token("t"))
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    lock_path = store._side_path(KEY, "lock")
    lock_path.symlink_to(victim)
    with pytest.raises(ConfigError, match=r"symbolic link"), store.lock(KEY):
        pass
    assert victim.read_text() == "keep me"
    # A link to a file that does not exist is not created through either.
    lock_path.unlink()
    lock_path.symlink_to(tmp_path / "created")
    with pytest.raises(ConfigError, match=r"symbolic link"), store.lock(KEY):
        pass
    assert not (tmp_path / "created").exists()


def test_a_lock_file_of_another_user_is_a_clear_error_not_a_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were it waited on, the error would be the timeout's ("held the token lock").
    monkeypatch.setattr(stores_module, "LOCK_TIMEOUT", 0.2)
    store = FileTokenStore(tmp_path / "cache")
    store.save(KEY, Token("t"))
    lock_path = store._side_path(KEY, "lock")
    lock_path.write_bytes(b"")
    os.chown(lock_path, OTHER, OTHER)
    with pytest.raises(ConfigError) as raised, store.lock(KEY):
        pass
    assert str(lock_path) in str(raised.value)
    assert "not a file of yours" in str(raised.value)
    assert lock_path.exists()  # not ours to remove


def test_a_loose_folder_of_ours_is_tightened_through_no_link(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    FileTokenStore(cache).save(KEY, Token("t"))
    assert mode(cache) == 0o700
