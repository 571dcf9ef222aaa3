"""Shared fixtures: a fresh sandbox per test, auth factories, and a clean environment.

Plain helpers (base URL by vendor, a session with an auth) are in helpers.py.

The sandbox itself comes from the ``auth_plugins_sandbox`` fixture that the
package ships for users' own test suites (``auth_plugins.pytest_plugin``).
"""

from __future__ import annotations

import os
import types
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers import VendorAuth

from auth_plugins import PasswordAuth, TeamUpAuth, Up2MoneyAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.stores import choose as stores_choose

#: Variables the package reads; each test starts without them.
PACKAGE_ENV_PREFIXES = ("TEAMUP_", "UP2MONEY_", "AUTH_PLUGINS_", "ACME_")


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No package variable leaks in from the machine, and tokens go to a private temp folder."""
    for name in list(os.environ):
        if name.startswith(PACKAGE_ENV_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUTH_PLUGINS_CACHE_DIR", str(tmp_path_factory.mktemp("token-cache")))
    # Never the machine's own keyring: the backend that has no entries (tests of the
    # keyring pick a file backend in a temp folder: the file_keyring fixture).
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    # HTTPie keeps its config (and would write update checks) under this folder.
    monkeypatch.setenv("HTTPIE_CONFIG_DIR", str(tmp_path_factory.mktemp("httpie-config")))
    # Auth objects with the same credentials share a store in a process: not across tests.
    monkeypatch.setattr(stores_choose, "_by_credentials", weakref.WeakValueDictionary())


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """keyrings.alt's plain-text file keyring in a temp folder, for this process and children.

    Chosen the way a user chooses one, by PYTHON_KEYRING_BACKEND; yields the
    ``keyring`` module to read and write it with.
    """
    import keyring

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "keyring-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "keyring-config"))
    keyring.core.init_backend()  # read the variable again, as a new process does
    assert type(keyring.get_keyring()).__name__ == "PlaintextKeyring"
    yield keyring
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()


@pytest.fixture
def sandbox(auth_plugins_sandbox: Sandbox) -> Sandbox:
    """The sandbox for this test (a fresh one each time)."""
    return auth_plugins_sandbox


@pytest.fixture
def teamup_auth(sandbox: Sandbox) -> Iterator[Callable[..., TeamUpAuth]]:
    """Make a TeamUpAuth for the sandbox; keywords override the demo user's settings."""
    made: list[TeamUpAuth] = []

    def make(**kwargs: Any) -> TeamUpAuth:
        settings: dict[str, Any] = {
            "username": DEMO_TEAMUP_USERNAME,
            "password": DEMO_TEAMUP_PASSWORD,
            "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
            "base_url": sandbox.teamup_url,
            **kwargs,
        }
        auth = TeamUpAuth(**settings)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        auth.close()


@pytest.fixture
def up2money_auth(sandbox: Sandbox) -> Iterator[Callable[..., Up2MoneyAuth]]:
    """Make an Up2MoneyAuth for the sandbox; keywords override the demo user's settings."""
    made: list[Up2MoneyAuth] = []

    def make(**kwargs: Any) -> Up2MoneyAuth:
        settings: dict[str, Any] = {
            "username": DEMO_UP2MONEY_EMAIL,
            "password": DEMO_UP2MONEY_PASSWORD,
            "secret": DEMO_UP2MONEY_SECRET,
            "base_url": sandbox.up2money_url,
            **kwargs,
        }
        auth = Up2MoneyAuth(**settings)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        auth.close()


@pytest.fixture
def vendor_auth(
    teamup_auth: Callable[..., TeamUpAuth], up2money_auth: Callable[..., Up2MoneyAuth]
) -> VendorAuth:
    """Make the auth of ``vendor`` (``"teamup"`` or ``"up2money"``) for the sandbox.

    Keywords override the demo user's settings, as for ``teamup_auth``/``up2money_auth``.
    """

    def make(vendor: str, **overrides: Any) -> PasswordAuth:
        return teamup_auth(**overrides) if vendor == "teamup" else up2money_auth(**overrides)

    return make


# ------------------------------------------------------------------------------ network servers
# forward_proxy, slow_drip_server and bomb_server: loopback servers for tests of what a client
# does on the wire (proxies, slow answers, huge answers). They live in netservers.py.
pytest_plugins = ["netservers", "redis_server"]
