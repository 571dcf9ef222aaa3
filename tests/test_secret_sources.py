"""Secrets from a command, the environment and the system keyring: order, laziness, failures.

Real parts only: small Python scripts written here are the password managers
(one prints the secret, one fails, one hangs, one prints nothing), keyrings.alt's
file backend in a temp folder is the keyring (selected by PYTHON_KEYRING_BACKEND,
as a user would), and the sandbox answers the logins over loopback.
"""

from __future__ import annotations

import logging
import pickle
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import run_threads, session_with

from auth_plugins import (
    ConfigError,
    FileTokenStore,
    InvalidCredentials,
    MemoryTokenStore,
    TeamUpAuth,
    Up2MoneyAuth,
)
from auth_plugins.core.secrets import keyring_service
from auth_plugins.core.settings import Settings
from auth_plugins.core.vendor import Option, Vendor
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.vendors.teamup import TEAMUP

# -- the password managers: real commands --------------------------------------------------

PRINTS = """
import sys
import threading
with open(sys.argv[1], "a") as marker:
    marker.write("ran\\n")
secret = open(sys.argv[2]).read()
print(secret)
print("url: https://example.com (pass keeps notes below the password)")
"""
FAILS = """
import sys
import threading
print("half-of-a-secret-4242")
sys.stderr.write("gpg: decryption failed: No secret key \\x1b[2J half-of-a-secret-4242\\n")
sys.stderr.write("x" * 100000)
sys.exit(2)
"""
HANGS = """
import subprocess, sys, time
# A child that would keep the pipes open: the timeout kills the whole group.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
time.sleep(120)
"""
SILENT = "pass\n"


class Commands:
    """Writes the scripts; ``printing(secret)`` is a command line that prints ``secret``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.marker = folder / "ran.txt"
        self._count = 0

    def script(self, source: str, *args: str) -> str:
        self._count += 1
        path = self.folder / f"command{self._count}.py"
        path.write_text(source)
        return shlex.join([sys.executable, str(path), *args])

    def printing(self, secret: str) -> str:
        self._count += 1
        secret_file = self.folder / f"secret{self._count}.txt"
        secret_file.write_text(secret)
        return self.script(PRINTS, str(self.marker), str(secret_file))

    def runs(self) -> int:
        """How many times a printing command ran."""
        return len(self.marker.read_text().splitlines()) if self.marker.exists() else 0


@pytest.fixture
def commands(tmp_path: Path) -> Commands:
    folder = tmp_path / "commands"
    folder.mkdir()
    return Commands(folder)


def customers(sandbox: Sandbox, auth: Any) -> requests.Response:
    return requests.get(sandbox.teamup_url + "/customers", auth=auth, timeout=30)


def teamup(sandbox: Sandbox, **settings: Any) -> TeamUpAuth:
    given: dict[str, Any] = {
        "username": DEMO_TEAMUP_USERNAME,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "base_url": sandbox.teamup_url,
        **settings,
    }
    return TeamUpAuth(**given)


# -- a command -------------------------------------------------------------------------------


def test_password_from_a_command_runs_it_once_when_the_first_login_needs_it(
    sandbox: Sandbox, commands: Commands
) -> None:
    command = commands.printing(DEMO_TEAMUP_PASSWORD)
    auth = teamup(sandbox, password_command=command)
    assert commands.runs() == 0  # not at construction
    session = session_with(auth)
    for _ in range(3):
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    auth.forget_token()  # a second login uses the password already fetched
    assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    assert commands.runs() == 1
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 2
    source = auth._renewal.settings.source("password")
    assert source == f"the command {command!r} (argument password_command=)"


def test_a_stored_token_runs_no_command_and_a_refresh_needs_no_password(
    sandbox: Sandbox, commands: Commands, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    assert customers(sandbox, teamup(sandbox, password=DEMO_TEAMUP_PASSWORD, token_store=store))
    later = teamup(
        sandbox, password_command=commands.printing(DEMO_TEAMUP_PASSWORD), token_store=store
    )
    assert customers(sandbox, later).status_code == 200
    sandbox.expire_tokens("teamup")  # the refresh token still works
    assert customers(sandbox, later).status_code == 200
    assert sandbox.refreshes("teamup") == 1
    assert sandbox.logins("teamup") == 1
    assert commands.runs() == 0


def test_every_secret_option_has_a_command_variable(
    sandbox: Sandbox, commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_PASSWORD_COMMAND", commands.printing(DEMO_TEAMUP_PASSWORD))
    monkeypatch.setenv(
        "TEAMUP_DIRECT_AUTH_KEY_COMMAND", commands.printing(DEMO_TEAMUP_DIRECT_AUTH_KEY)
    )
    monkeypatch.setenv("UP2MONEY_PASSWORD_COMMAND", commands.printing(DEMO_UP2MONEY_PASSWORD))
    monkeypatch.setenv("UP2MONEY_SECRET_COMMAND", commands.printing(DEMO_UP2MONEY_SECRET))
    assert customers(sandbox, TeamUpAuth(DEMO_TEAMUP_USERNAME, base_url=sandbox.teamup_url))
    up2money = Up2MoneyAuth(DEMO_UP2MONEY_EMAIL, base_url=sandbox.up2money_url)
    url = sandbox.up2money_url + "/managed_accounts"
    assert requests.get(url, auth=up2money, timeout=30).status_code == 200
    assert commands.runs() == 4
    # A plugin's own secret option gets one too, named after its variable.
    zed = Vendor(
        name="zed",
        title="Zed",
        base_url="https://zed.example/api",
        login_path="/login",
        login_body={"user": "{username}", "password": "{password}", "key": "{api_key}"},
        env_prefix="ZED",
        options=(Option("api_key", env="ZED_API_KEY", required=True, secret=True),),
    )
    command = commands.printing("zed-key-1")
    monkeypatch.setenv("ZED_API_KEY_COMMAND", command)
    settings = Settings(zed, {"username": "u", "password": "p"})
    assert settings.values(["api_key"])["api_key"] == "zed-key-1"
    assert settings.source("api_key") == f"the command {command!r} (ZED_API_KEY_COMMAND)"


def test_the_order_argument_command_variable_keyring(
    commands: Commands, monkeypatch: pytest.MonkeyPatch, file_keyring: Any
) -> None:
    base = {"username": "alice", "direct_auth_key": "k", "base_url": "https://t.example/api"}
    file_keyring.set_password(keyring_service(TEAMUP, base["base_url"]), "alice", "from-keyring")

    def password(**given: Any) -> tuple[str, str]:
        settings = Settings(TEAMUP, {**base, **given})
        value = settings.values(["password"])["password"]
        source = settings.source("password")
        assert source is not None
        return value, source

    assert password() == (
        "from-keyring",
        "the keyring (service 'auth-plugins:teamup:https://t.example/api', user 'alice')",
    )
    monkeypatch.setenv("TEAMUP_PASSWORD", "from-variable")
    assert password() == ("from-variable", "environment variable TEAMUP_PASSWORD")
    monkeypatch.setenv("TEAMUP_PASSWORD_COMMAND", commands.printing("from-variable-command"))
    value, source = password()
    assert value == "from-variable-command"
    assert source.endswith("(TEAMUP_PASSWORD_COMMAND)")
    value, source = password(password_command=commands.printing("from-argument-command"))
    assert value == "from-argument-command"
    assert source.endswith("(argument password_command=)")
    assert password(password="from-argument") == ("from-argument", "argument password=")
    assert password(password=lambda: "from-callable") == ("from-callable", "argument password=")
    with pytest.raises(ConfigError, match="both password= and password_command="):
        Settings(TEAMUP, {**base, "password": "p", "password_command": "true"})
    # AUTH_PLUGINS_KEYRING=off skips the keyring.
    monkeypatch.delenv("TEAMUP_PASSWORD")
    monkeypatch.delenv("TEAMUP_PASSWORD_COMMAND")
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    with pytest.raises(ConfigError) as caught:
        Settings(TEAMUP, base)
    assert "TEAMUP_PASSWORD_COMMAND" in str(caught.value)


def test_a_variable_of_another_user_is_not_this_users_password(
    commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_USERNAME", "alice@example.com")
    monkeypatch.setenv("TEAMUP_PASSWORD_COMMAND", commands.printing("alices-password"))
    bob = Settings(TEAMUP, {"username": "bob@example.com", "direct_auth_key": "k"})
    with pytest.raises(ConfigError, match="needs your TeamUp password"):
        bob.values()
    assert commands.runs() == 0
    alice = Settings(TEAMUP, {"username": "Alice@example.com", "direct_auth_key": "k"})
    assert alice.values()["password"] == "alices-password"


# -- failing commands ------------------------------------------------------------------------


def test_a_failing_command_quotes_its_stderr_bounded_without_its_output(
    sandbox: Sandbox, commands: Commands
) -> None:
    command = commands.script(FAILS)
    auth = teamup(sandbox, password_command=command)
    with pytest.raises(ConfigError) as caught:
        customers(sandbox, auth)
    error = caught.value
    message = str(error)
    assert command in message  # the command line is named...
    assert "exited with status 2" in message
    assert "gpg: decryption failed: No secret key" in message  # ...its stderr quoted
    assert "\x1b" not in message
    assert len(message) < 1200
    for shown in (message, repr(error), repr(error.args), pickle.dumps(error)):
        assert "half-of-a-secret" not in str(shown)
    assert sandbox.login_attempts("teamup") == 0


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (SILENT, "printed no password on its first line"),
        ("print()\nprint('second line')\n", "printed no password on its first line"),
        (HANGS, "did not finish within 0.5s (set AUTH_PLUGINS_COMMAND_TIMEOUT"),
    ],
)
def test_an_empty_or_hanging_command(
    sandbox: Sandbox,
    commands: Commands,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    expected: str,
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_COMMAND_TIMEOUT", "0.5")
    auth = teamup(sandbox, password_command=commands.script(source))
    with pytest.raises(ConfigError) as caught:
        auth.get_token()
    assert expected in str(caught.value)
    assert sandbox.login_attempts("teamup") == 0


def test_a_command_that_cannot_start_or_be_read(sandbox: Sandbox, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-password-manager")
    with pytest.raises(ConfigError, match="could not start"):
        teamup(sandbox, password_command=f"{missing} show teamup").get_token()
    # Parsed at construction: a broken command line is a setting error, found at once.
    with pytest.raises(ConfigError, match="password_command= is not a command line"):
        teamup(sandbox, password_command="pass show 'teamup")
    with pytest.raises(ConfigError, match="password_command= is empty"):
        teamup(sandbox, password_command="  ")
    auth = teamup(sandbox, password_command="true")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_PLUGINS_COMMAND_TIMEOUT", "soon")
        with pytest.raises(ConfigError, match="AUTH_PLUGINS_COMMAND_TIMEOUT must be"):
            auth.get_token()


def test_a_wrong_password_from_a_command_costs_one_attempt_and_says_where_it_came_from(
    sandbox: Sandbox, commands: Commands
) -> None:
    wrong = "wrong-password-from-pass-31"
    command = commands.printing(wrong)
    auth = teamup(sandbox, password_command=command)
    errors = []
    for _ in range(3):
        with pytest.raises(InvalidCredentials) as caught:
            customers(sandbox, auth)
        errors.append(caught.value)
    assert sandbox.login_attempts("teamup") == 1
    assert commands.runs() == 1
    for error in errors:
        assert f"the password came from the command {command!r}" in str(error)
        assert wrong not in str(error) + repr(error) + str(pickle.dumps(error))


# -- the keyring -----------------------------------------------------------------------------


def test_password_from_the_keyring(sandbox: Sandbox, file_keyring: Any) -> None:
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    file_keyring.set_password(service, DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    auth = teamup(sandbox)
    assert customers(sandbox, auth).status_code == 200
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1
    # Another base URL (a staging server) is another service: its password is not this one.
    with pytest.raises(ConfigError, match="the keyring has no entry"):
        teamup(sandbox, base_url=sandbox.teamup_url + "/v3").get_token()


def test_a_wrong_password_from_the_keyring_is_sent_once(
    sandbox: Sandbox, file_keyring: Any
) -> None:
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    file_keyring.set_password(service, DEMO_TEAMUP_USERNAME, "stale-keyring-password")
    auth = teamup(sandbox)
    for _ in range(2):
        with pytest.raises(InvalidCredentials) as caught:
            auth.get_token()
    assert sandbox.login_attempts("teamup") == 1
    message = str(caught.value)
    assert f"the password came from the keyring (service {service!r}, user " in message
    assert "stale-keyring-password" not in message


def test_secret_options_from_the_keyring(sandbox: Sandbox, file_keyring: Any) -> None:
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    file_keyring.set_password(service, "option:direct_auth_key", DEMO_TEAMUP_DIRECT_AUTH_KEY)
    auth = TeamUpAuth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD, base_url=sandbox.teamup_url)
    assert customers(sandbox, auth).status_code == 200


def test_without_a_usable_keyring_a_missing_password_names_the_alternatives(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # conftest selects keyring's fail backend: what a headless server or a container has.
    caplog.set_level(logging.DEBUG)
    auth = teamup(sandbox)
    with pytest.raises(ConfigError) as caught:
        customers(sandbox, auth)
    message = str(caught.value)
    assert message.startswith("TeamUp needs your TeamUp password: set argument password=")
    for alternative in ("TEAMUP_PASSWORD", "TEAMUP_PASSWORD_COMMAND", "auth-plugins login"):
        assert alternative in message
    assert "the keyring could not be read (NoKeyringError)" in message
    assert "Traceback" not in caplog.text
    assert sandbox.login_attempts("teamup") == 0


def test_keyring_is_imported_only_when_a_login_looks_it_up() -> None:
    script = (
        "import sys, auth_plugins, auth_plugins.adapters.httpie\n"
        "from auth_plugins import TeamUpAuth\n"
        "auth = TeamUpAuth('a', direct_auth_key='k', password_command='true')\n"
        "auth = TeamUpAuth('a', direct_auth_key='k')\n"
        "print('keyring' in sys.modules)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert found == "False"


# -- nothing leaks ---------------------------------------------------------------------------


def test_a_commands_output_is_never_logged_or_shown(
    sandbox: Sandbox,
    commands: Commands,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key_command = commands.printing(DEMO_UP2MONEY_SECRET)
    auth = Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        password_command=commands.printing(DEMO_UP2MONEY_PASSWORD),
        secret_command=key_command,
        base_url=sandbox.up2money_url,
    )
    url = sandbox.up2money_url + "/managed_accounts"
    assert requests.get(url, auth=auth, timeout=30).status_code == 200
    settings = auth._renewal.settings
    copied = pickle.loads(pickle.dumps(settings))  # a lock does not pickle: it is rebuilt
    shown = caplog.text + repr(auth) + settings.shown() + repr(copied.get("secret") is not None)
    for secret in (DEMO_UP2MONEY_PASSWORD, DEMO_UP2MONEY_SECRET):
        assert secret not in shown
    assert "running the command" in caplog.text  # the command itself may be logged
    assert commands.runs() == 2


def test_threads_starting_together_run_each_command_once(
    sandbox: Sandbox, commands: Commands
) -> None:
    # up2.money's x-secret goes on every call, outside the login lock (a stored token
    # needs no login): Settings has a lock of its own.
    store = MemoryTokenStore()
    url = sandbox.up2money_url + "/managed_accounts"
    first = Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
        token_store=store,
    )
    assert requests.get(url, auth=first, timeout=30).status_code == 200
    auth = Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        password_command=commands.printing(DEMO_UP2MONEY_PASSWORD),
        secret_command=commands.printing(DEMO_UP2MONEY_SECRET),
        base_url=sandbox.up2money_url,
        token_store=store,
    )
    start = threading.Barrier(6)
    statuses: list[int] = []

    def call() -> None:
        start.wait(timeout=30)
        statuses.append(requests.get(url, auth=auth, timeout=30).status_code)

    run_threads(6, call)  # fails on a hung thread or one that raised
    assert statuses == [200] * 6
    assert commands.runs() == 1  # the secret, once; the password not at all
    assert sandbox.login_attempts("up2money") == 1
