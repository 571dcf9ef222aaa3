"""Where a secret comes from, and what a user reads when it cannot be had.

The sources of :mod:`auth_plugins.core.secrets` and the password commands of
:mod:`auth_plugins.core.secret_command`, tested at their edges: the first line
of a command's output and its exact limits, what a failing command's message
quotes (bounded, one line, never the output), a hung command killed with what
it started, the messages that name every way to give a missing secret, the
order (argument, command, variable, keyring, prompt last) and keyring failures
turned into clear errors. Commands are real subprocesses (small
``sys.executable -c`` scripts); keyrings are real ``keyring`` backends.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from auth_plugins import ConfigError
from auth_plugins.core.secret_command import (
    OUTPUT_LIMIT,
    STDERR_QUOTE,
    CommandSecret,
    command_timeout,
    run_bounded,
)
from auth_plugins.core.secrets import (
    AskLast,
    Chain,
    Given,
    KeyringSecret,
    _keyring_installed,
    check_keyring,
    delete_secret,
    keyring_service,
    store_secret,
)
from auth_plugins.core.settings import Settings
from auth_plugins.core.vendor import Option, Vendor
from auth_plugins.vendors.teamup import TEAMUP

BASE_URL = "https://t.example/api"
SERVICE = keyring_service(TEAMUP, BASE_URL)
ALTERNATIVES = "TEAMUP_PASSWORD or a password command"

# -- commands: real subprocesses -------------------------------------------------------------

#: Writes exactly the bytes given (as hex) to stdout and stderr, then exits with a status.
EMITS = (
    "import sys\n"
    "sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))\n"
    "sys.stdout.flush()\n"
    "sys.stderr.buffer.write(bytes.fromhex(sys.argv[2]))\n"
    "sys.exit(int(sys.argv[3]))\n"
)
#: Prints a secret line, then notes up to exactly ``total`` bytes of stdout.
PADDED = (
    "import sys\n"
    "first = sys.argv[1].encode() + b'\\n'\n"
    "sys.stdout.buffer.write(first + b'n' * (int(sys.argv[2]) - len(first)))\n"
    "sys.stderr.buffer.write(sys.argv[3].encode())\n"
)


def emitting(out: bytes = b"", err: bytes = b"", status: int = 0) -> str:
    """A command line that prints ``out`` and ``err`` byte for byte and exits with ``status``."""
    return shlex.join([sys.executable, "-c", EMITS, out.hex(), err.hex(), str(status)])


def padded(first_line: str, total: int, err: str = "") -> str:
    """A command line printing ``first_line`` and notes: ``total`` bytes of stdout in all."""
    return shlex.join([sys.executable, "-c", PADDED, first_line, str(total), err])


def password_command(command: str) -> CommandSecret:
    return CommandSecret(TEAMUP, "password", command, "argument password_command=")


def failure(secret: CommandSecret) -> str:
    """The message of the :class:`ConfigError` that fetching ``secret`` raises."""
    with pytest.raises(ConfigError) as caught:
        secret.fetch()
    return str(caught.value)


def prefix(secret: CommandSecret) -> str:
    """How every failure message of a password command begins."""
    return f"TeamUp: {secret.where}, run for the password, "


# -- the secret a command prints -------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "secret"),
    [
        (b"s3cret\r\nurl: https://example.com\n", "s3cret"),  # a Windows line ending
        (b"ends-in-X\nnotes\n", "ends-in-X"),
        (b"pass phrase with spaces \t\n", "pass phrase with spaces \t"),
        (b"no-line-end", "no-line-end"),
        ("caf\u00e9-\u00fc-pw\n".encode(), "caf\u00e9-\u00fc-pw"),
    ],
)
def test_the_first_line_is_the_secret_without_its_line_ending_only(
    printed: bytes, secret: str
) -> None:
    # A password may end in spaces or any letter: only the line ending is taken off.
    assert password_command(emitting(printed)).fetch() == secret


def test_output_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    accepted = password_command(padded("secret-at-the-limit", OUTPUT_LIMIT))
    assert accepted.fetch() == "secret-at-the-limit"

    # stderr echoing the secret: the message quotes stderr with the output taken out.
    chatty = password_command(
        padded("secret-past-limit", OUTPUT_LIMIT + 1, err="warning: secret-past-limit is long")
    )
    message = failure(chatty)
    assert message == (
        f"{prefix(chatty)}printed more than {OUTPUT_LIMIT} bytes; it said: warning: *** is long"
    )


def test_run_bounded_keeps_one_byte_past_the_limit_and_drains_the_rest() -> None:
    # The limit is exactly OUTPUT_LIMIT + 1 bytes (enough to tell "too much"), and a
    # chatty command is drained, not left blocked on a full pipe.
    script = (
        "import sys, time\n"
        "for stream in (sys.stdout, sys.stderr):\n"
        f"    stream.buffer.write(b'a' * {OUTPUT_LIMIT}); stream.flush()\n"
        "time.sleep(0.2)\n"
        "for stream in (sys.stdout, sys.stderr):\n"
        "    stream.buffer.write(b'b' * 300000); stream.flush()\n"
    )
    status, out, err = run_bounded([sys.executable, "-c", script], timeout=60)
    assert status == 0
    assert out == err == b"a" * OUTPUT_LIMIT + b"b"


def test_output_that_is_not_utf8_is_refused_and_never_quoted() -> None:
    secret = password_command(
        emitting(b"\xffnot-text\nhalf-secret-line-77\n", err=b"note: half-secret-line-77\n")
    )
    message = failure(secret)
    assert message == (
        f"{prefix(secret)}printed something that is not UTF-8 text; it said: note: ***"
    )


def test_an_empty_first_line_is_refused_and_the_lines_below_stay_out_of_the_message() -> None:
    secret = password_command(
        emitting(b"\nsecond-line-secret-9\n", err=b"oops: second-line-secret-9\n")
    )
    assert (
        failure(secret)
        == f"{prefix(secret)}printed no password on its first line; it said: oops: ***"
    )


# -- a failing command: what the message quotes ----------------------------------------------


def test_a_failing_command_without_stderr_says_only_its_status() -> None:
    secret = password_command(emitting(status=3))
    assert failure(secret) == f"{prefix(secret)}exited with status 3"


def test_stderr_that_is_not_utf8_is_still_quoted() -> None:
    # gpg and friends may print in a legacy encoding: the diagnosis must not be lost.
    secret = password_command(emitting(err=b"gpg: bad \xff key\n", status=1))
    assert failure(secret) == f"{prefix(secret)}exited with status 1; it said: gpg: bad \ufffd key"


def test_stderr_is_quoted_on_one_line_and_clipped_at_the_quote_limit() -> None:
    # Control characters (a terminal escape, tabs, line breaks) become single spaces.
    exact = "x" * (STDERR_QUOTE - 8) + "\x1b[2J\tend\n"
    secret = password_command(emitting(err=exact.encode(), status=1))
    said = failure(secret).split("; it said: ", 1)[1]
    assert said == "x" * (STDERR_QUOTE - 8) + " [2J end"
    assert len(said) == STDERR_QUOTE  # at the limit: whole

    longer = password_command(emitting(err=b"y" * (STDERR_QUOTE + 1), status=1))
    said = failure(longer).split("; it said: ", 1)[1]
    assert said == "y" * (STDERR_QUOTE - 3) + "..."


def test_a_command_that_cannot_start_says_why(tmp_path: Path) -> None:
    secret = password_command(shlex.join([str(tmp_path / "no-such-manager"), "show", "x"]))
    assert failure(secret) == f"{prefix(secret)}could not start: No such file or directory"


def test_a_start_failure_without_a_system_message_names_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        raise OSError()

    secret = password_command("pass show teamup")
    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert failure(secret) == f"{prefix(secret)}could not start: OSError"


def test_the_command_gets_no_stdin() -> None:
    # A password manager that reads input gets end-of-file at once, never the
    # caller's own stdin (a terminal, or data piped to the program).
    reader, writer = os.pipe()
    os.write(writer, b"typed-by-the-user\n")
    os.close(writer)
    try:
        saved: Optional[int] = os.dup(0)
    except OSError:  # no stdin at all
        saved = None
    os.dup2(reader, 0)
    os.close(reader)
    try:
        reads = shlex.join([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"])
        assert password_command(reads).fetch() == "''"
    finally:
        if saved is None:
            os.close(0)
        else:
            os.dup2(saved, 0)
            os.close(saved)


#: A command that ignores every polite signal and starts a child that does too.
STUBBORN = """
import signal, subprocess, sys, time
polite = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2")
for name in polite:
    signal.signal(getattr(signal, name), signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c", "import signal, time\\n"
     f"for name in {polite!r}: signal.signal(getattr(signal, name), signal.SIG_IGN)\\n"
     "time.sleep(3)"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
with open(sys.argv[1], "w") as ready:
    ready.write(str(child.pid))
time.sleep(3)
with open(sys.argv[2], "w") as outlived:
    outlived.write("the command outlived its timeout")
"""


def process_is_gone(pid: int) -> bool:
    """Has ``pid`` ended (a zombie counts: it runs no more)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_hung_command_is_killed_with_what_it_started_even_if_it_ignores_signals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready, outlived = tmp_path / "ready", tmp_path / "outlived"
    monkeypatch.setenv("AUTH_PLUGINS_COMMAND_TIMEOUT", "1")
    secret = password_command(
        shlex.join([sys.executable, "-c", STUBBORN, str(ready), str(outlived)])
    )
    started = time.monotonic()
    assert failure(secret) == (
        f"{prefix(secret)}did not finish within 1s (set AUTH_PLUGINS_COMMAND_TIMEOUT for longer)"
    )
    assert time.monotonic() - started < 2.5
    assert ready.exists(), "the command did not start its child within the timeout"
    child = int(ready.read_text())
    deadline = time.monotonic() + 2
    while not process_is_gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process_is_gone(child), "the command's child outlived the timeout"
    assert not outlived.exists()


#: Prints the secret and exits, leaving a child that holds its stdout open for 30s (as a
#: daemon a password manager starts may); the child's pid goes to the file argv[1].
LINGERING = """
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(30)"],
    stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
with open(sys.argv[1], "w") as ready:
    ready.write(str(child.pid))
print("lingering-secret-77")
"""


def test_a_child_left_holding_the_output_open_delays_the_secret_only_briefly(
    tmp_path: Path,
) -> None:
    # Waits about 5s: how long the output is waited for after the command ends.
    ready = tmp_path / "child"
    secret = password_command(shlex.join([sys.executable, "-c", LINGERING, str(ready)]))
    started = time.monotonic()
    try:
        assert secret.fetch() == "lingering-secret-77"
        assert time.monotonic() - started < 15, "waited for the child, not for the command"
        # The reader still waiting on the child's pipe cannot keep the program from exiting,
        # and a thread dump says whose it is.
        left = [t for t in threading.enumerate() if t.name == "auth-plugins-command"]
        assert left, "no reader thread named for auth-plugins is left on the open pipe"
        assert all(t.daemon for t in left)
    finally:
        os.kill(int(ready.read_text()), signal.SIGKILL)


def test_the_debug_log_names_the_command_but_never_its_output(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="auth_plugins")
    secret = password_command(emitting(b"logged-never-4411\n"))
    assert secret.fetch() == "logged-never-4411"
    assert [r.getMessage() for r in caplog.records] == [
        f"teamup: running {secret.where} for the password"
    ]
    assert "logged-never-4411" not in caplog.text


def test_a_long_command_line_is_clipped_in_messages_at_500_characters() -> None:
    at_limit = "pass show " + "a" * 490
    assert password_command(at_limit).where == (
        f"the command {at_limit!r} (argument password_command=)"
    )
    past = at_limit + "b"
    clipped = past[:497] + "..."
    assert password_command(past).where == f"the command {clipped!r} (argument password_command=)"


@pytest.mark.parametrize(
    ("setting", "seconds"), [(None, 30.0), ("", 30.0), (" 2.5 ", 2.5), ("1e-3", 0.001)]
)
def test_command_timeout_setting(
    monkeypatch: pytest.MonkeyPatch, setting: Optional[str], seconds: float
) -> None:
    if setting is not None:
        monkeypatch.setenv("AUTH_PLUGINS_COMMAND_TIMEOUT", setting)
    assert command_timeout() == seconds


@pytest.mark.parametrize("setting", ["0", "-1", "inf", "nan", "soon"])
def test_command_timeout_must_be_a_positive_finite_number(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    # "inf" would let a hung password manager hang every login for ever.
    monkeypatch.setenv("AUTH_PLUGINS_COMMAND_TIMEOUT", setting)
    with pytest.raises(ConfigError) as caught:
        command_timeout()
    assert str(caught.value) == "AUTH_PLUGINS_COMMAND_TIMEOUT must be a positive number of seconds"


# -- the message when no source has the secret -----------------------------------------------

NO_KEYRING = "(the keyring could not be read (NoKeyringError))"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (
            {"direct_auth_key": "k"},
            "TeamUp needs your TeamUp password: set argument password= or environment "
            "variable TEAMUP_PASSWORD, a command printing it (password_command= or "
            "TEAMUP_PASSWORD_COMMAND), or keep it in the system keyring "
            "(auth-plugins login teamup alice@example.com)",
        ),
        (
            {"password": "p"},
            "TeamUp needs the Direct Authentication key TeamUp issued for your application: "
            "set argument direct_auth_key= or environment variable TEAMUP_DIRECT_AUTH_KEY, "
            "a command printing it (direct_auth_key_command= or "
            "TEAMUP_DIRECT_AUTH_KEY_COMMAND), or keep it in the system keyring "
            "(auth-plugins login teamup --option direct_auth_key)",
        ),
    ],
)
def test_a_missing_secret_names_every_source_and_the_login_that_stores_it(
    given: dict[str, str], missing: str
) -> None:
    # conftest's keyring is the fail backend: installed, unusable (a headless server).
    settings = Settings(TEAMUP, {"username": "alice@example.com", **given})
    with pytest.raises(ConfigError) as caught:
        settings.values()
    assert str(caught.value) == f"{missing} {NO_KEYRING}"


def test_without_the_keyring_a_missing_password_fails_at_once_and_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    with pytest.raises(ConfigError) as caught:
        Settings(TEAMUP, {"username": "alice", "direct_auth_key": "k"})
    assert str(caught.value) == (
        "TeamUp needs your TeamUp password: set argument password= or environment variable "
        "TEAMUP_PASSWORD, a command printing it (password_command= or TEAMUP_PASSWORD_COMMAND), "
        "or keep it in the system keyring (switched off by AUTH_PLUGINS_KEYRING)"
    )


@pytest.fixture
def keyring_not_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the ``keyring`` package were not installed (its look-up is cached per process)."""
    monkeypatch.setitem(sys.modules, "keyring", None)
    _keyring_installed.cache_clear()
    yield
    monkeypatch.undo()
    _keyring_installed.cache_clear()


@pytest.mark.usefixtures("keyring_not_installed")
def test_without_the_keyring_package_a_missing_password_says_how_to_install_it() -> None:
    """A user without the keyring extra is told the pip command that brings it, word for word."""
    with pytest.raises(ConfigError) as caught:
        Settings(TEAMUP, {"username": "alice", "direct_auth_key": "k"})
    assert str(caught.value) == (
        "TeamUp needs your TeamUp password: set argument password= or environment variable "
        "TEAMUP_PASSWORD, a command printing it (password_command= or TEAMUP_PASSWORD_COMMAND), "
        "or pip install 'auth-plugins[keyring]' to keep it in the system keyring"
    )


def zed(option: Option) -> Vendor:
    """A plugin's vendor with one more secret option."""
    return Vendor(
        name="zed",
        title="Zed",
        base_url="https://zed.example/api",
        login_path="/login",
        login_body={"user": "{username}", "password": "{password}", "key": "{api_key}"},
        env_prefix="ZED",
        options=(option,),
    )


def test_an_option_without_a_variable_is_named_by_its_argument_and_command_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    vendor = zed(Option("api_key", required=True, secret=True))
    with pytest.raises(ConfigError) as caught:
        Settings(vendor, {"username": "u", "password": "p"})
    assert str(caught.value) == (
        "Zed needs api_key: set argument api_key=, a command printing it (api_key_command=), "
        "or keep it in the system keyring (switched off by AUTH_PLUGINS_KEYRING)"
    )


# -- the order, and where a secret will come from --------------------------------------------


def test_before_it_is_asked_a_source_names_where_the_secret_will_come_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nothing runs at construction: a command that cannot even start is only named.
    base = {"username": "alice", "direct_auth_key": "k", "base_url": BASE_URL}
    command = shlex.join([str(tmp_path / "never-run"), "show", "teamup"])
    by_argument = Settings(TEAMUP, {**base, "password_command": command})
    assert by_argument.source("password") == (
        f"the command {command!r} (argument password_command=)"
    )
    monkeypatch.setenv("TEAMUP_PASSWORD_COMMAND", command)
    by_variable = Settings(TEAMUP, base)
    assert by_variable.source("password") == f"the command {command!r} (TEAMUP_PASSWORD_COMMAND)"
    monkeypatch.delenv("TEAMUP_PASSWORD_COMMAND")
    # The keyring, then the prompt: both named, in that order.
    with_prompt = Settings(TEAMUP, {**base, "password": AskLast(lambda: "typed")})
    assert with_prompt.source("password") == (
        f"the keyring (service {SERVICE!r}, user 'alice') or the terminal prompt"
    )
    # An optional secret nobody gave has no value and no source.
    assert by_argument.source("verification_key") is None
    assert by_argument.get("verification_key") is None


def test_the_prompt_is_asked_last_and_once(file_keyring: Any) -> None:
    asked: list[str] = []

    def prompt() -> str:
        asked.append("password")
        return "typed-at-the-prompt"

    base = {"username": "alice", "direct_auth_key": "k", "base_url": BASE_URL}
    settings = Settings(TEAMUP, {**base, "password": AskLast(prompt)})
    for _ in range(2):  # a second login does not ask again
        assert settings.values()["password"] == "typed-at-the-prompt"
    assert asked == ["password"]
    assert settings.source("password") == "the terminal prompt"

    file_keyring.set_password(SERVICE, "alice", "from-the-keyring")
    stored = Settings(TEAMUP, {**base, "password": AskLast(prompt)})
    assert stored.values()["password"] == "from-the-keyring"
    assert asked == ["password"]  # the keyring had it: no prompt


def test_an_empty_answer_at_the_prompt_is_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"username": "alice", "direct_auth_key": "k", "base_url": BASE_URL}
    missing = (
        "TeamUp needs your TeamUp password: set argument password= or environment variable "
        "TEAMUP_PASSWORD, a command printing it (password_command= or TEAMUP_PASSWORD_COMMAND), "
    )
    # With the (unusable) keyring before the prompt, the message says why it had none.
    settings = Settings(TEAMUP, {**base, "password": AskLast(lambda: "")})
    with pytest.raises(ConfigError) as caught:
        settings.values()
    assert str(caught.value) == (
        f"{missing}or keep it in the system keyring (auth-plugins login teamup alice) {NO_KEYRING}"
    )
    # The prompt alone gives no reason: none is made up.
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    settings = Settings(TEAMUP, {**base, "password": AskLast(lambda: "")})
    with pytest.raises(ConfigError) as caught:
        settings.values()
    assert str(caught.value) == (
        f"{missing}or keep it in the system keyring (switched off by AUTH_PLUGINS_KEYRING)"
    )


def test_a_chain_lists_why_each_source_had_nothing(file_keyring: Any) -> None:
    chain = Chain(
        [
            KeyringSecret("service-one", "u"),
            Given(lambda: None, "a vault"),
            KeyringSecret("service-two", "u"),
        ],
        "Zed needs a key",
    )
    assert chain.where == (
        "the keyring (service 'service-one', user 'u') or a vault"
        " or the keyring (service 'service-two', user 'u')"
    )
    with pytest.raises(ConfigError) as caught:
        chain.fetch()
    assert str(caught.value) == (
        "Zed needs a key (the keyring has no entry for 'service-one', user 'u'; "
        "the keyring has no entry for 'service-two', user 'u')"
    )
    file_keyring.set_password("service-two", "u", "found-second")
    assert chain.fetch() == "found-second"
    assert chain.where == "the keyring (service 'service-two', user 'u')"


@pytest.mark.parametrize("answer", [None, "", 12345, b"bytes-password", ["list"]])
def test_a_callable_answering_anything_but_a_string_gives_no_password(answer: object) -> None:
    asked: list[object] = []

    def ask() -> object:
        asked.append(answer)
        return answer

    assert Given(ask, "a vault").fetch() is None
    settings = Settings(TEAMUP, {"username": "alice", "direct_auth_key": "k", "password": ask})
    with pytest.raises(ConfigError) as caught:
        settings.values()
    assert str(caught.value) == "TeamUp needs a password; none was given"


def test_a_callable_password_is_asked_once_not_at_every_login() -> None:
    asked: list[str] = []

    def ask() -> str:
        asked.append("vault")
        return "from-the-vault"

    settings = Settings(TEAMUP, {"username": "alice", "direct_auth_key": "k", "password": ask})
    assert asked == []  # not at construction
    for _ in range(3):
        assert settings.values()["password"] == "from-the-vault"
    assert asked == ["vault"]
    assert settings.source("password") == "argument password="


# -- the keyring's failures ------------------------------------------------------------------


def test_an_unreadable_keyring_is_logged_by_its_error_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="auth_plugins")
    secret = KeyringSecret(SERVICE, "alice")
    assert secret.fetch() is None
    assert secret.problem == "the keyring could not be read (NoKeyringError)"
    assert [r.getMessage() for r in caplog.records] == [
        f"keyring look-up for {SERVICE} failed: NoKeyringError"
    ]


def test_no_usable_keyring_quotes_the_backends_words_clipped() -> None:
    with pytest.raises(ConfigError) as caught:
        check_keyring(SERVICE, "alice", ALTERNATIVES)
    message = str(caught.value)
    said = (
        "No recommended backend was available. Install a recommended 3rd party backend "
        "package; or, install the keyrings.alt package if you want to use the "
        "non-recommended backends. See https://pypi.org/pro..."
    )
    assert len(said) == 200
    assert message == (
        f"no usable keyring (NoKeyringError: {said}); on a headless server or in a "
        f"container, use {ALTERNATIVES} instead"
    )
    assert caught.value.__cause__ is None


class EchoingError(Exception):
    """A backend error that repeats what it was given, as some do."""


@pytest.fixture
def echoing_keyring() -> Iterator[None]:
    """A keyring backend whose every call fails with an error quoting its arguments."""
    import keyring
    from keyring.backends import fail

    class Echoing(fail.Keyring):
        # fail.Keyring's signatures: set_password is its get_password.
        def get_password(self, service: Any, username: Any, password: Any = None) -> Any:
            raise EchoingError(f"cannot read {service} for {username}")

        def set_password(self, service: Any, username: Any, password: Any = None) -> Any:
            raise EchoingError(f"cannot store {password!r} for {username}")

    keyring.set_keyring(Echoing())  # type: ignore[no-untyped-call]
    yield
    keyring.core.init_backend()  # back to conftest's choice


@pytest.mark.usefixtures("echoing_keyring")
def test_a_keyring_error_never_shows_the_secret_being_stored() -> None:
    with pytest.raises(ConfigError) as caught:
        store_secret(SERVICE, "alice", "new-secret-8812", ALTERNATIVES)
    error = caught.value
    assert str(error) == (
        "no usable keyring (EchoingError: cannot store '***' for alice); on a headless "
        f"server or in a container, use {ALTERNATIVES} instead"
    )
    # Raised outside the handler: no traceback context carries the backend's words.
    assert error.__cause__ is None
    assert error.__context__ is None


def test_without_the_keyring_package_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if not installed
    calls: list[Callable[[], object]] = [
        lambda: check_keyring(SERVICE, "alice", ALTERNATIVES),
        lambda: store_secret(SERVICE, "alice", "s", ALTERNATIVES),
        lambda: delete_secret(SERVICE, "alice", ALTERNATIVES),
    ]
    for call in calls:
        with pytest.raises(ConfigError) as caught:
            call()
        assert str(caught.value) == (
            "the keyring package is not installed: pip install 'auth-plugins[keyring]', "
            f"or use {ALTERNATIVES}"
        )


@pytest.mark.parametrize(
    ("base_url", "service"),
    [
        ("https://t.example/api", "auth-plugins:teamup:https://t.example/api"),
        ("https://t.example/api/", "auth-plugins:teamup:https://t.example/api"),
        ("https://fx.example/v1/FOREX//", "auth-plugins:teamup:https://fx.example/v1/FOREX"),
    ],
)
def test_the_keyring_service_names_the_base_url_without_its_trailing_slashes(
    base_url: str, service: str
) -> None:
    # A password stored with "auth-plugins login" is found whichever way the URL is written.
    assert keyring_service(TEAMUP, base_url) == service


def test_forgetting_a_password_says_whether_there_was_one(file_keyring: Any) -> None:
    store_secret(SERVICE, "alice", "kept-password", ALTERNATIVES)
    assert file_keyring.get_password(SERVICE, "alice") == "kept-password"
    check_keyring(SERVICE, "alice", ALTERNATIVES)  # a usable keyring: no error
    assert delete_secret(SERVICE, "alice", ALTERNATIVES) is True
    assert file_keyring.get_password(SERVICE, "alice") is None
    assert delete_secret(SERVICE, "alice", ALTERNATIVES) is False
