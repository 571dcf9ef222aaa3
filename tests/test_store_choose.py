"""AUTH_PLUGINS_TOKEN_STORE: what a value that names no store is told, without its password."""

from __future__ import annotations

import pytest

from auth_plugins import ConfigError
from auth_plugins.stores import token_store_from_env


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # A password holding "@": everything up to the last "@" is hidden.
        ("mongodb://admin:p@ss@db.internal:27017/0", "mongodb://***@db.internal:27017/0"),
        ("redis-cache.internal:6379", "redis-cache.internal:6379"),  # no password: as it is
        ("files", "files"),
        # A long value without a password is cut to its first 60 characters.
        (
            "sqlite:///" + "/var/lib/auth-plugins/" * 4,
            "sqlite:///" + ("/var/lib/auth-plugins/" * 3)[:50],
        ),
    ],
)
def test_a_value_that_names_no_store_is_refused_with_its_password_hidden(
    monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", value)
    with pytest.raises(ConfigError) as raised:
        token_store_from_env()
    assert str(raised.value) == (
        "AUTH_PLUGINS_TOKEN_STORE must be a redis://, rediss:// or unix:// URL, "
        f"'file' or 'memory', not {shown!r}"
    )
