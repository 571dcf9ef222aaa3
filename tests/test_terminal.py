"""The terminal front end's helpers, called directly (HTTPie and the CLI run them end to end)."""

from __future__ import annotations

import functools
import inspect
import io
import json
import sys
from typing import Any, Callable

import pytest
import requests

from auth_plugins import TeamUpAuth, Up2MoneyAuth
from auth_plugins.adapters.terminal import (
    accepts_keyword,
    command_line_hint,
    command_line_options,
    password_prompt,
    terminal_two_factor,
)
from auth_plugins.core.secrets import AskLast
from auth_plugins.errors import (
    AccountLocked,
    ConfigError,
    InvalidCredentials,
    LoginError,
    TwoFactorRequired,
)
from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    Sandbox,
)
from auth_plugins.sandbox.config import TeamUpUser
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY


class Named:
    def __init__(self, username: str, *, two_factor_handler: Any = None) -> None:
        pass


class Positional:
    def __init__(self, two_factor_handler: Any, /) -> None:  # not a keyword
        pass


class PositionalFirst:
    def __init__(self, username: str, /, two_factor_handler: Any = None) -> None:
        pass


class Forwards:
    def __init__(self, **kwargs: Any) -> None:  # takes any keyword, names none
        pass


class Inherits(Named):
    pass


def _decorate(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        init(*args, **kwargs)

    return wrapper


class Wrapped:
    @_decorate
    def __init__(self, two_factor_handler: Any = None) -> None:
        pass


class Described:
    def __init__(self, *args: Any) -> None:
        pass

    __signature__ = inspect.Signature(
        [inspect.Parameter("two_factor_handler", inspect.Parameter.KEYWORD_ONLY)]
    )


class Made(type):
    def __call__(cls, two_factor_handler: Any = None) -> Any:
        return super().__call__()


class ByMetaclass(metaclass=Made):
    pass


class ByMetaclassWithInit(metaclass=Made):  # the metaclass's __call__ is what callers call
    def __init__(self) -> None:
        pass


def factory_function(username: str, two_factor_handler: Any = None) -> None:
    pass


def test_accepts_keyword_answers() -> None:
    """The keyword must be one the factory names as a keyword, whatever kind of callable it is."""
    assert accepts_keyword(Named, "two_factor_handler")
    assert accepts_keyword(Inherits, "two_factor_handler")
    assert accepts_keyword(PositionalFirst, "two_factor_handler")
    assert not accepts_keyword(PositionalFirst, "username")
    assert accepts_keyword(Wrapped, "two_factor_handler")
    assert accepts_keyword(Described, "two_factor_handler")
    assert accepts_keyword(ByMetaclass, "two_factor_handler")
    assert accepts_keyword(ByMetaclassWithInit, "two_factor_handler")
    assert accepts_keyword(Named, "username")  # the first parameter after self
    assert accepts_keyword(TeamUpAuth, "two_factor_handler")
    assert not accepts_keyword(Up2MoneyAuth, "two_factor_handler")  # up2.money has no 2FA hook
    assert not accepts_keyword(Named, "username_of_nobody")
    assert not accepts_keyword(Forwards, "two_factor_handler")
    assert not accepts_keyword(Positional, "two_factor_handler")
    assert not accepts_keyword(len, "two_factor_handler")
    assert not accepts_keyword(max, "two_factor_handler")  # no signature: not assumed


def test_password_prompt_without_a_terminal_says_how_to_give_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message is written when the prompt cannot ask, and only then."""
    asked: list[str] = []

    def message() -> str:
        asked.append("message")
        return "Acme needs the password of alice: set ACME_PASSWORD"

    ask = password_prompt("Acme password for alice: ", message)
    assert asked == []
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError) as caught:
        ask()
    assert str(caught.value) == "Acme needs the password of alice: set ACME_PASSWORD"
    assert asked == ["message"]


def test_password_prompt_refuses_an_empty_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "")
    ask = password_prompt("p: ", lambda: "Acme needs the password of alice: set X")
    with pytest.raises(ConfigError) as caught:
        ask()
    assert str(caught.value) == "Acme needs the password of alice: no password was typed"


def test_password_prompt_end_of_input_is_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", eof)
    ask = password_prompt("p: ", lambda: "Acme needs the password of alice: set X")
    with pytest.raises(ConfigError, match="no password was typed"):
        ask()


def test_password_prompt_returns_what_was_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return "s3cret"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", typed)
    assert password_prompt("Acme password for alice: ", lambda: "unused")() == "s3cret"
    assert prompts == ["Acme password for alice: "]


# -- two-factor at a terminal (terminal_two_factor), against the sandbox -------------------------


class TerminalInput(io.StringIO):
    """What a person types at a terminal: lines to read, and a tty to ask on."""

    def isatty(self) -> bool:
        return True


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> TerminalInput:
    """Make stdin a terminal on which ``lines`` are typed; returns it."""
    terminal = TerminalInput("".join(f"{line}\n" for line in lines))
    monkeypatch.setattr(sys, "stdin", terminal)
    return terminal


def two_factor_calls(sandbox: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """The two-factor calls the sandbox received: (last part of the path, JSON body)."""
    return [
        (path.rsplit("/", 1)[1], json.loads(body))
        for _, path, _, body in sandbox.received
        if "/auth/two_factor/" in path
    ]


def pending_two_factor_login(auth: TeamUpAuth, sandbox: Sandbox) -> TwoFactorRequired:
    """The TwoFactorRequired error a real login of the two-factor user raises."""
    with pytest.raises(TwoFactorRequired) as caught:
        requests.get(f"{sandbox.teamup_url}/customers", auth=auth, timeout=10)
    return caught.value


TWO_FACTOR_HEADER = "TeamUp asks for a two-factor login.\n"
PHONE_PROMPT = "Phone number for the SMS code: "
CODE_PROMPT = "SMS code: "


def test_two_factor_at_a_terminal_asks_for_the_phone_and_the_code(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME,
        password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
        two_factor_handler=terminal_two_factor,
    )
    terminal = typed(monkeypatch, DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)
    answer = requests.get(f"{sandbox.teamup_url}/customers", auth=auth, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["count"] == 2
    # One provider: not asked which. Prompts on stderr, nothing on stdout.
    assert capsys.readouterr() == ("", TWO_FACTOR_HEADER + PHONE_PROMPT + CODE_PROMPT)
    assert terminal.read() == ""  # both answers were read
    [(start, started), (verify, verified)] = two_factor_calls(sandbox)
    assert start == "start_verification"
    assert started["phone_number"] == DEMO_TEAMUP_TWO_FACTOR_PHONE
    assert started["provider"] == 7
    assert started["pending_login"]
    assert verify == "verify"
    assert verified == {
        "phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE,
        "verification_code": DEMO_SMS_CODE,
    }
    assert sandbox.logins("teamup", DEMO_TEAMUP_TWO_FACTOR_USERNAME) == 1


def test_two_factor_for_several_providers_asks_which_one(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.teamup.config.users["carol@example.com"] = TeamUpUser(
        "carol-password", 1005, [3, 5], two_factor=True, phone="+15555550111"
    )
    auth = teamup_auth(
        username="carol@example.com",
        password="carol-password",
        provider_id=5,
        two_factor_handler=terminal_two_factor,
    )
    typed(monkeypatch, "5", "+15555550111", DEMO_SMS_CODE)
    answer = requests.get(f"{sandbox.teamup_url}/customers", auth=auth, timeout=10)
    assert answer.status_code == 200
    assert capsys.readouterr().err == (
        TWO_FACTOR_HEADER + "Provider id (3, 5): " + PHONE_PROMPT + CODE_PROMPT
    )
    [(_, started), _] = two_factor_calls(sandbox)
    assert started["provider"] == 5
    assert sandbox.logins("teamup", "carol@example.com") == 1


def test_two_factor_with_no_provider_named_asks_for_an_id(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME, password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD
    )
    pending = pending_two_factor_login(auth, sandbox)
    unnamed = TwoFactorRequired(
        "TeamUp wants a two-factor login (providers none named)",
        pending_login_id=pending.pending_login_id,
        providers=[],
    )
    typed(monkeypatch, "7", DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)
    assert terminal_two_factor(auth, unnamed) is True
    assert capsys.readouterr().err == (
        TWO_FACTOR_HEADER + "Provider id: " + PHONE_PROMPT + CODE_PROMPT
    )
    [(_, started), _] = two_factor_calls(sandbox)
    assert started["provider"] == 7
    assert started["pending_login"] == pending.pending_login_id
    # The verification key it got finishes the login.
    answer = requests.get(f"{sandbox.teamup_url}/customers", auth=auth, timeout=10)
    assert answer.status_code == 200
    assert sandbox.logins("teamup", DEMO_TEAMUP_TWO_FACTOR_USERNAME) == 1


def test_two_factor_provider_id_must_be_a_number(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = TwoFactorRequired(
        "TeamUp wants a two-factor login (providers 3, 5)", pending_login_id="p", providers=[3, 5]
    )
    typed(monkeypatch, "five")
    with pytest.raises(ConfigError) as caught:
        terminal_two_factor(teamup_auth(), error)
    assert str(caught.value) == "a provider id is a number, not 'five'"
    assert capsys.readouterr().err == TWO_FACTOR_HEADER + "Provider id (3, 5): "
    assert sandbox.received == []


def test_two_factor_end_of_input_is_an_error_not_an_empty_answer(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = TwoFactorRequired("two-factor", pending_login_id="p", providers=[7])
    typed(monkeypatch)  # a terminal where Ctrl-D is pressed
    with pytest.raises(ConfigError) as caught:
        terminal_two_factor(teamup_auth(), error)
    assert str(caught.value) == "no answer was typed (end of input)"
    assert capsys.readouterr().err == TWO_FACTOR_HEADER + PHONE_PROMPT
    assert sandbox.received == []


def test_two_factor_without_a_terminal_lets_the_error_stand(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME,
        password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
        two_factor_handler=terminal_two_factor,
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{DEMO_TEAMUP_TWO_FACTOR_PHONE}\n"))
    error = pending_two_factor_login(auth, sandbox)
    assert error.providers == [7]
    assert terminal_two_factor(auth, error) is False
    assert capsys.readouterr() == ("", "")
    assert two_factor_calls(sandbox) == []


# -- command_line_options: user and password as a command-line user gives them ---------------


def test_command_line_options_take_the_user_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = command_line_options(
        TEAMUP, " bob@example.com ", "pw", user_hint="-a USER", password_hint=None
    )
    assert options == {"username": "bob@example.com", "password": "pw"}
    monkeypatch.setenv("TEAMUP_USERNAME", "  alice@example.com\n")
    options = command_line_options(TEAMUP, "  ", "pw", user_hint="-a USER", password_hint=None)
    assert options == {"username": "alice@example.com", "password": "pw"}
    monkeypatch.setenv("UP2MONEY_EMAIL", "carol@example.com")
    options = command_line_options(UP2MONEY, None, "pw", user_hint="-a USER", password_hint=None)
    assert options == {"username": "carol@example.com", "password": "pw"}


def test_command_line_options_without_a_user_say_how_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        command_line_options(TEAMUP, None, None, user_hint="-a USER[:PASSWORD]", password_hint=None)
    assert str(caught.value) == (
        "TeamUp needs your username: give -a USER[:PASSWORD] or set TEAMUP_USERNAME"
    )
    with pytest.raises(ConfigError) as caught:
        command_line_options(UP2MONEY, " ", "pw", user_hint="--user USER", password_hint=None)
    assert str(caught.value) == (
        "up2.money needs your e-mail: give --user USER or set UP2MONEY_EMAIL"
    )


def test_command_line_password_is_asked_last_and_says_every_way_to_give_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = command_line_options(
        TEAMUP,
        "alice@example.com",
        None,
        user_hint="-a USER[:PASSWORD]",
        password_hint="-a USER:PASSWORD",
    )
    assert options["username"] == "alice@example.com"
    password = options["password"]
    assert isinstance(password, AskLast)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError) as caught:
        password()
    assert str(caught.value) == (
        "TeamUp needs the password of alice@example.com to log in: give -a USER:PASSWORD, "
        "set TEAMUP_PASSWORD or TEAMUP_PASSWORD_COMMAND (a command printing it), "
        "keep it in the system keyring (auth-plugins login teamup alice@example.com), "
        "or run in a terminal to be asked"
    )

    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    options = command_line_options(
        UP2MONEY, "carol@example.com", None, user_hint="--user USER", password_hint=None
    )
    with pytest.raises(ConfigError) as caught:
        options["password"]()
    assert str(caught.value) == (
        "up2.money needs the password of carol@example.com to log in: "
        "set UP2MONEY_PASSWORD or UP2MONEY_PASSWORD_COMMAND (a command printing it), "
        "keep it in the system keyring (switched off by AUTH_PLUGINS_KEYRING), "
        "or run in a terminal to be asked"
    )


def test_command_line_password_prompt_names_the_vendor_and_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "s3cret"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", getpass)
    options = command_line_options(
        TEAMUP, "alice@example.com", None, user_hint="-a USER", password_hint=None
    )
    assert prompts == []  # asked only when a login needs it
    assert options["password"]() == "s3cret"
    assert prompts == ["TeamUp password for alice@example.com: "]

    monkeypatch.setattr("getpass.getpass", lambda prompt: "")
    with pytest.raises(ConfigError) as caught:
        options["password"]()
    assert str(caught.value) == (
        "TeamUp needs the password of alice@example.com to log in: no password was typed"
    )


# -- command_line_hint: advice in a command-line user's terms ----------------------------------


def test_two_factor_hint_names_the_terminal_and_the_variable() -> None:
    error = TwoFactorRequired(
        "TeamUp wants a two-factor login (providers 7)",
        pending_login_id="pending-1",
        providers=[7],
        hint="Finish it with auth.start_two_factor(...)",
    )
    assert command_line_hint(error, TEAMUP, "-a USER[:PASSWORD]") is error
    assert str(error) == (
        "TeamUp wants a two-factor login (providers 7). Run in a terminal to be asked for "
        "the phone number and the SMS code, or set TEAMUP_VERIFICATION_KEY to a "
        "verification key"
    )
    # Without a pending login there is nothing to finish at a terminal: the advice stands.
    unfinished = TwoFactorRequired(
        "TeamUp two-factor verification answered without a verification_key",
        pending_login_id="",
        providers=[],
        hint="Try again",
    )
    assert command_line_hint(unfinished, TEAMUP, "-a USER") is unfinished
    assert str(unfinished) == (
        "TeamUp two-factor verification answered without a verification_key. Try again"
    )


def test_wrong_password_hint_names_the_option_and_the_variable() -> None:
    error = InvalidCredentials("TeamUp login failed: HTTP 401", hint="call auth.reset()")
    assert command_line_hint(error, TEAMUP, "-a USER[:PASSWORD]") is error
    assert str(error) == (
        "TeamUp login failed: HTTP 401. "
        "Check the username and password (-a USER[:PASSWORD], TEAMUP_PASSWORD)"
    )
    error = InvalidCredentials("up2.money login failed: HTTP 401")
    command_line_hint(error, UP2MONEY, "--user USER")
    assert str(error) == (
        "up2.money login failed: HTTP 401. "
        "Check the e-mail and password (--user USER, UP2MONEY_PASSWORD)"
    )


@pytest.mark.parametrize("kind", [InvalidCredentials, AccountLocked])
def test_remembered_refusal_hint_says_how_to_clear_it_from_the_command_line(
    kind: type[LoginError],
) -> None:
    error = kind(
        "TeamUp login failed: HTTP 401",
        hint="These credentials were refused before (remembered in /tmp/x, so the fleet "
        "sends them once); correct the password, or clear it with auth.reset()",
    )
    error.remembered = True
    assert command_line_hint(error, TEAMUP, "-a USER[:PASSWORD]") is error
    assert str(error) == (
        "TeamUp login failed: HTTP 401. These credentials were refused before (remembered "
        "in /tmp/x, so the fleet sends them once); check the username and password "
        "(-a USER[:PASSWORD], TEAMUP_PASSWORD), or run `auth-plugins logout teamup` to "
        "clear it"
    )


def test_other_errors_keep_their_advice() -> None:
    locked = AccountLocked("TeamUp login failed: HTTP 423", hint="Wait for the unlock")
    missing = ConfigError("TeamUp needs TEAMUP_DIRECT_AUTH_KEY", hint="Set it")
    for error in (locked, missing):
        before = str(error)
        assert command_line_hint(error, TEAMUP, "-a USER") is error
        assert str(error) == before


def test_password_prompt_takes_its_message_as_text_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature before the message could be written late still works."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError) as caught:
        password_prompt("p: ", "Acme needs the password of alice: set ACME_PASSWORD")()
    assert str(caught.value) == "Acme needs the password of alice: set ACME_PASSWORD"
