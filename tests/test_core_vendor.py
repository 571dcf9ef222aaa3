"""A vendor declared by a plugin author, and one auth's settings as a user gives them.

A mistake in a :class:`Vendor` is refused when the vendor is declared, naming the field and the
fix, so that it never shows up later as a header silently left out or a login that never works.
:class:`Settings` says where each secret came from, tells a person only what they cannot see for
themselves, and decides which auths may share one login.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from auth_plugins import ConfigError
from auth_plugins.core.errors import AuthPluginError
from auth_plugins.core.secrets import AskLast
from auth_plugins.core.settings import Settings
from auth_plugins.core.vendor import Option, Vendor, check_header_value
from auth_plugins.vendors.teamup import TEAMUP

PASSWORD = "correct-horse-battery"
API_KEY = "acme-key-1234"
BASE_URL = "https://acme.example/api"

#: Everything a vendor must declare; each test changes what it is about.
DECLARATION: dict[str, Any] = {
    "name": "acme",
    "title": "Acme",
    "base_url": BASE_URL,
    "login_path": "/login",
    "login_body": {"user": "{username}", "pass": "{password}", "key": "{api_key}"},
    "env_prefix": "ACME",  # ACME_* variables are cleared for every test (conftest)
    "options": (Option("api_key", env="ACME_API_KEY", secret=True),),
    "api_headers": {"Authorization": "Bearer {token}", "X-Api-Key": "{api_key}"},
}


def declare(**changes: Any) -> Vendor:
    return Vendor(**{**DECLARATION, **changes})


ACME = declare()


def settings(**given: Any) -> Settings:
    return Settings(ACME, {"username": "alice", "base_url": BASE_URL, **given})


@pytest.fixture
def printing(tmp_path: Path) -> Callable[[str], str]:
    """Makes a command line that prints a secret kept in a file, as ``pass show acme/key`` does.

    The secret is not in the command line itself, which messages may quote.
    """

    def command(secret: str) -> str:
        path = tmp_path / f"secret-{len(list(tmp_path.iterdir()))}.txt"
        path.write_text(secret)
        script = "import sys; print(open(sys.argv[1]).read())"
        return shlex.join([sys.executable, "-c", script, str(path)])

    return command


# -- declaring a vendor: each mistake is refused, naming the field and the fix -----------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"name": "Acme"},
            "vendor 'Acme': name must be lower-case letters, digits, '-' or '_', "
            "starting with a letter",
            id="upper-case name",
        ),
        pytest.param({"name": "1acme"}, "name must be lower-case", id="name starts with digit"),
        pytest.param({"name": "ac me"}, "name must be lower-case", id="space in name"),
        pytest.param({"name": ""}, "name must be lower-case", id="empty name"),
        pytest.param(
            {"title": ""},
            "vendor 'acme': title must be a name for people, e.g. 'Acme'",
            id="no title",
        ),
        pytest.param(
            {"env_prefix": "acme"},
            "vendor 'acme': env_prefix must be upper-case letters, digits or '_', e.g. 'ACME'",
            id="lower-case env_prefix",
        ),
        pytest.param({"env_prefix": "1ACME"}, "env_prefix must be", id="env_prefix digit first"),
        pytest.param({"env_prefix": "AC-ME"}, "env_prefix must be", id="dash in env_prefix"),
        pytest.param(
            {"login_path": "login"},
            "vendor 'acme': login_path must start with '/' (it is appended to the base URL)",
            id="relative login_path",
        ),
        pytest.param(
            {"refresh_path": "refresh", "refresh_token_field": "refresh_token"},
            "vendor 'acme': refresh_path must start with '/' (it is appended to the base URL)",
            id="relative refresh_path",
        ),
        pytest.param(
            {"refresh_path": "/refresh"},
            "vendor 'acme': refresh_path needs refresh_token_field: "
            "where the login answer has the token",
            id="refresh without its token",
        ),
        pytest.param(
            {"token_field": ""},
            "vendor 'acme': token_field must name where the login answer has the token",
            id="no token_field",
        ),
        pytest.param(
            {"token_lifetime": 0},
            "vendor 'acme': token_lifetime must be a positive number of seconds, or None",
            id="zero lifetime",
        ),
        pytest.param({"token_lifetime": -5}, "token_lifetime must be", id="negative lifetime"),
        pytest.param({"token_lifetime": "60"}, "token_lifetime must be", id="lifetime as text"),
        pytest.param({"token_lifetime": True}, "token_lifetime must be", id="lifetime as a bool"),
        pytest.param({"name": "acme\n"}, "name must be lower-case", id="name with a newline"),
        pytest.param(
            {"api_headers": {"X-Token": "{token}\n"}},
            "vendor 'acme': api_headers['X-Token'] must be one line of text; '{token}\\n' is not",
            id="header template with a line break",
        ),
        pytest.param(
            # A pasted certificate: the message quotes its start, not all of it.
            {
                "api_headers": {
                    "Authorization": "Bearer {token}",
                    "X-Client-Cert": "-----BEGIN CERTIFICATE-----\n"
                    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJRTESMBAGA1UE",
                }
            },
            "vendor 'acme': api_headers['X-Client-Cert'] must be one line of text; "
            "'-----BEGIN CERTIFICATE-----\\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADB... "
            "is not",
            id="long header template clipped",
        ),
        pytest.param(
            {"idle_timeout": 0},
            "vendor 'acme': idle_timeout must be a positive number of seconds, or None",
            id="zero idle timeout",
        ),
        pytest.param(
            {"api_headers": {"X-Token": "{token}", "X-Org": "{org}", "X-Team": "{team}"}},
            "vendor 'acme': api_headers uses {org}, {team}, which no option provides (a typo?); "
            "it can use: api_key, base_url, password, token, username",
            id="two unknown template names",
        ),
        pytest.param(
            {"api_headers": {"X-User": "{username}"}},
            "vendor 'acme': api_headers must send the token: put '{token}' in one of them",
            id="token never sent",
        ),
    ],
)
def test_a_declaration_mistake_is_refused_naming_the_field_and_the_fix(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        declare(**changes)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("names", "taken"),
    [
        (["token"], "token"),
        (["refresh_token"], "refresh_token"),
        (["token", "refresh_token"], "refresh_token, token"),
        (["password"], "password"),
        (["region", "region"], "region"),
    ],
)
def test_an_option_may_not_take_a_name_the_engine_fills_in_or_another_option_has(
    names: list[str], taken: str
) -> None:
    # "{token}" in a template would be ambiguous: the engine's access token or the option's value.
    with pytest.raises(ConfigError) as caught:
        declare(options=tuple(Option(name) for name in names))
    assert str(caught.value) == (
        f"vendor 'acme': option name(s) {taken} are taken: username, password, "
        "base_url, token and refresh_token are the engine's"
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"name": "a"}, id="one-letter name"),
        pytest.param({"name": "a1-b_c"}, id="name with digit, dash, underscore"),
        pytest.param({"env_prefix": "A"}, id="one-letter env_prefix"),
        pytest.param({"env_prefix": "A1_B"}, id="env_prefix with digit, underscore"),
        pytest.param({"token_lifetime": 0.5, "idle_timeout": 0.5}, id="under a second"),
        pytest.param({"token_lifetime": 1, "idle_timeout": 3600.0}, id="int and float"),
        pytest.param({"token_lifetime": None, "idle_timeout": None}, id="unknown lifetimes"),
        pytest.param(
            {"refresh_path": "/refresh?grant=refresh", "refresh_token_field": "refresh_token"},
            id="refresh with its token",
        ),
        pytest.param({"refresh_body": {"rt": "{refresh_token}"}}, id="refresh_body uses it"),
    ],
)
def test_a_declaration_at_each_limit_is_accepted(changes: dict[str, Any]) -> None:
    vendor = declare(**changes)
    for field, value in changes.items():
        assert getattr(vendor, field) == value


def test_a_list_of_single_use_options_becomes_a_tuple() -> None:
    # Declarations read naturally as lists; the engine (and equality) wants tuples.
    otp = Option("otp", secret=True)
    vendor = declare(
        options=[otp],
        login_body={"user": "{username}", "pass": "{password}", "otp": "{otp}"},
        api_headers={"Authorization": "Bearer {token}"},
        single_use_options=["otp"],
    )
    assert vendor.single_use_options == ("otp",)
    assert vendor.options == (otp,)


def test_an_options_hook_refuses_what_choices_cannot_and_sees_every_value() -> None:
    seen: list[dict[str, Any]] = []

    def region_code(values: Any) -> None:
        seen.append(dict(values))
        if not str(values["region"]).startswith("eu-"):
            raise ConfigError("Acme region= (or ACME_REGION) must be an eu- region")

    vendor = declare(
        options=(Option("region", env="ACME_REGION", default="eu-1"),),
        login_body={"user": "{username}", "pass": "{password}"},
        api_headers={"Authorization": "Bearer {token}", "X-Region": "{region}"},
        options_hook=region_code,
    )
    given = {"username": "alice", "password": PASSWORD}
    assert Settings(vendor, given).get("region") == "eu-1"
    assert seen[-1]["username"] == "alice"
    with pytest.raises(ConfigError, match="must be an eu- region"):
        Settings(vendor, {**given, "region": "us-2"})
    assert vendor.resolve_options({**given, "region": "eu-3"})["region"] == "eu-3"


def test_a_header_value_with_a_line_break_names_the_option_and_never_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(api_key="acme-key\r\nX-Injected: 1")
    assert "api_key= or ACME_API_KEY" in str(caught.value)
    assert "Injected" not in str(caught.value)


# -- where a secret came from ----------------------------------------------------------------


def test_a_secret_not_asked_for_yet_names_where_it_will_come_from(
    monkeypatch: pytest.MonkeyPatch, printing: Callable[[str], str]
) -> None:
    # Until a login needs it, the command has not run: the source is the command itself.
    command = printing(PASSWORD)
    monkeypatch.setenv("ACME_PASSWORD_COMMAND", command)
    settings_ = settings()
    assert settings_.source("password") == f"the command {command!r} (ACME_PASSWORD_COMMAND)"
    assert settings_.values(["password"])["password"] == PASSWORD
    assert settings_.source("password") == f"the command {command!r} (ACME_PASSWORD_COMMAND)"


def test_a_value_the_program_set_or_not_a_secret_has_no_source() -> None:
    settings_ = settings(password=PASSWORD)
    assert settings_.source("password") == "argument password="
    assert settings_.source("username") is None
    assert settings_.source("api_key") is None  # not given at all
    settings_.set("password", "a-new-password")
    assert settings_.source("password") is None


def test_a_callable_set_after_construction_is_asked_once_and_named_a_callable() -> None:
    # reset(password=callable) on a live auth: the new source is asked at the next login.
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return "a-new-password"

    settings_ = settings(password=PASSWORD)
    settings_.set("password", ask)
    assert settings_.values()["password"] == "a-new-password"
    assert settings_.values()["password"] == "a-new-password"
    assert asked == [1]
    assert settings_.source("password") == "a callable"


def test_a_secret_asked_for_late_is_still_checked_before_it_goes_into_a_header() -> None:
    # A stray newline from a file or a command must not reach a header (header injection).
    settings_ = settings(password=PASSWORD, api_key=lambda: API_KEY + "\n")
    with pytest.raises(ConfigError) as caught:
        settings_.values()
    message = str(caught.value)
    assert "Acme api_key has a line break" in message
    assert "check api_key= or ACME_API_KEY" in message
    assert API_KEY not in message


def test_a_secret_asked_for_late_that_is_fit_for_a_header_is_taken() -> None:
    settings_ = settings(password=PASSWORD, api_key=lambda: API_KEY)
    assert settings_.values()["api_key"] == API_KEY


# -- what a refused login tells the user about its secrets -----------------------------------


REFUSED = "Acme refused the login."


def explained(settings_: Settings, summary: str = REFUSED) -> AuthPluginError:
    return settings_.explain(AuthPluginError(summary, hint="Check the password."))


def test_a_password_from_the_environment_is_named_on_a_refused_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stale ACME_PASSWORD in a shell profile is invisible: the user must be told of it.
    monkeypatch.setenv("ACME_PASSWORD", PASSWORD)
    error = explained(settings())
    told = "Acme refused the login (the password came from environment variable ACME_PASSWORD)"
    assert error.summary == told
    assert str(error) == told + ". Check the password."
    assert PASSWORD not in str(error)


def test_every_hidden_source_is_named_one_after_the_other(
    monkeypatch: pytest.MonkeyPatch, printing: Callable[[str], str]
) -> None:
    monkeypatch.setenv("ACME_PASSWORD", PASSWORD)
    command = printing(API_KEY)
    settings_ = settings(api_key_command=command)
    settings_.values()
    assert explained(settings_).summary == (
        "Acme refused the login (the password came from environment variable ACME_PASSWORD; "
        f"the api_key came from the command {command!r} (argument api_key_command=))"
    )


def test_a_command_not_run_yet_is_not_named(printing: Callable[[str], str]) -> None:
    # Only a secret actually used in the refused login is worth a word.
    settings_ = settings(password=PASSWORD, api_key_command=printing(API_KEY))
    assert explained(settings_).summary == REFUSED


@pytest.mark.parametrize(
    ("summary", "told"),
    [
        ("Acme refused the login.", "Acme refused the login"),
        ("Acme refused the login. ", "Acme refused the login"),
        ("Acme refused the login", "Acme refused the login"),
        ("Acme refused the login for ALEX.", "Acme refused the login for ALEX"),
    ],
)
def test_the_source_goes_before_the_full_stop_and_the_summary_is_kept_whole(
    monkeypatch: pytest.MonkeyPatch, summary: str, told: str
) -> None:
    monkeypatch.setenv("ACME_PASSWORD", PASSWORD)
    error = explained(settings(), summary)
    assert error.summary == f"{told} (the password came from environment variable ACME_PASSWORD)"


def _set_callable(settings_: Settings) -> None:
    settings_.set("password", lambda: PASSWORD)
    settings_.values()


@pytest.mark.parametrize(
    ("given", "env", "after"),
    [
        pytest.param({"password": PASSWORD}, {}, None, id="password argument"),
        pytest.param({"password": lambda: PASSWORD}, {}, None, id="callable argument"),
        pytest.param({"password": "old"}, {}, _set_callable, id="callable set later"),
        pytest.param(
            {"password": AskLast(lambda: PASSWORD)},
            {"AUTH_PLUGINS_KEYRING": "off"},
            None,
            id="terminal prompt",
        ),
        pytest.param(
            {"password": PASSWORD}, {"ACME_API_KEY": API_KEY}, None, id="other option's variable"
        ),
    ],
)
def test_a_source_the_user_can_see_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
    given: dict[str, Any],
    env: dict[str, str],
    after: Optional[Callable[[Settings], None]],
) -> None:
    # The program's own argument and a prompt the user just answered are plain to see; an
    # option's variable other than the password's is already named by the command's advice.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings_ = settings(**given)
    settings_.values()
    if after is not None:
        after(settings_)
    assert settings_.get("password") == PASSWORD
    assert explained(settings_).summary == REFUSED


def test_a_secret_prompted_for_says_so_when_asked_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_KEYRING", "off")
    settings_ = settings(password=AskLast(lambda: PASSWORD))
    assert settings_.values()["password"] == PASSWORD
    assert settings_.source("password") == "the terminal prompt"


# -- repr and sharing ------------------------------------------------------------------------


def test_shown_lists_the_values_set_with_every_secret_hidden() -> None:
    assert settings(password=PASSWORD, api_key=API_KEY).shown() == (
        f"username='alice', password=***, base_url='{BASE_URL}', api_key=***"
    )
    # An option nobody set is left out.
    assert settings(password=PASSWORD).shown() == (
        f"username='alice', password=***, base_url='{BASE_URL}'"
    )


def _key(**given: Any) -> Optional[tuple[str, ...]]:
    return settings(**{"password": PASSWORD, "api_key": API_KEY, **given}).sharing_key()


def test_equal_credentials_share_a_login_and_the_key_holds_no_secret() -> None:
    key = _key()
    assert key is not None
    assert key == _key()
    assert key[:3] == ("acme", BASE_URL, "alice")
    assert all(PASSWORD not in part and API_KEY not in part for part in key)
    # The same base URL written with a trailing slash is the same API.
    assert _key(base_url=BASE_URL + "/") == key


@pytest.mark.parametrize(
    "different",
    [
        pytest.param({"password": PASSWORD + "!"}, id="another password"),
        pytest.param({"api_key": API_KEY + "!"}, id="another api key"),
        pytest.param({"api_key": None}, id="no api key"),
        pytest.param({"username": "bob"}, id="another user"),
        pytest.param({"base_url": "https://staging.acme.example/api"}, id="another base URL"),
    ],
)
def test_auths_differing_in_any_credential_never_share_a_login(different: dict[str, Any]) -> None:
    assert _key(**different) != _key()


def test_secrets_cannot_trade_characters_across_their_boundary() -> None:
    # Joined with a separator, ("a\0b", "c") and ("a", "b\0c") were the same key.
    # (Secrets sent only in the login body, where no header check refuses a NUL.)
    in_body = declare(api_headers={"Authorization": "Bearer {token}"})

    def key(password: str, api_key: str) -> Optional[tuple[str, ...]]:
        given = {"username": "alice", "password": password, "api_key": api_key}
        return Settings(in_body, given).sharing_key()

    assert key("a\0b", "c") != key("a", "b\0c")
    assert key("a\0b", "c") == key("a\0b", "c")


def test_a_secret_not_asked_for_yet_leaves_the_sharing_key_unknown() -> None:
    # Two callables may well answer different passwords: no sharing until they have answered.
    settings_ = settings(password=lambda: PASSWORD)
    assert settings_.sharing_key() is None
    settings_.values()
    assert settings_.sharing_key() == _key(api_key=None)


@pytest.mark.parametrize("value", ["a b", "a~b", "!", "\x80", "\xff", "caf\xe9", 42])
def test_a_header_value_of_printable_latin_1_passes(value: Any) -> None:
    check_header_value(TEAMUP, "direct_auth_key", value)  # no error


@pytest.mark.parametrize("value", ["a\x7fb", "a\nb", "a\rb", "\x00", "\x1f", " a", "a ", "\u0100"])
def test_a_header_value_with_a_control_character_or_an_end_space_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_header_value(TEAMUP, "direct_auth_key", value)
    assert str(caught.value) == (
        "TeamUp direct_auth_key has a line break, a control character or spaces at an end, "
        "and it is sent in a header; check direct_auth_key= or TEAMUP_DIRECT_AUTH_KEY (a stray "
        "newline from a file or a command is the usual cause)"
    )


def test_a_refused_header_value_that_is_no_option_names_only_its_argument() -> None:
    with pytest.raises(ConfigError) as caught:
        check_header_value(TEAMUP, "token", "t\n")
    assert "; check token= (a stray newline" in str(caught.value)


def test_a_value_sent_only_in_a_login_header_is_checked_as_a_header_value() -> None:
    vendor = declare(
        api_headers={"Authorization": "Bearer {token}"}, login_headers={"X-Api-Key": "{api_key}"}
    )
    with pytest.raises(ConfigError, match="Acme api_key has a line break"):
        Settings(vendor, {"username": "u", "password": "p", "api_key": "k\n"})


@pytest.mark.parametrize(("value", "kind"), [(1.5, "float"), (True, "bool"), (["k"], "list")])
def test_an_argument_that_is_no_string_is_refused_naming_its_type(value: Any, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        declare().resolve_options({"username": "u", "password": "p", "api_key": value})
    assert str(caught.value) == f"Acme argument api_key= must be a string, not {kind}"


def test_a_number_argument_is_taken_as_its_text() -> None:
    values = declare().resolve_options({"username": "u", "password": "p", "api_key": 42})
    assert values["api_key"] == "42"


def test_a_value_no_choice_matches_is_quoted_unless_it_is_a_secret() -> None:
    vendor = declare(
        options=(
            Option("region", env="ACME_REGION", choices=("eu-1", "us-1")),
            Option("tier_key", secret=True, choices=("gold-key-1", "silver-key-2")),
        ),
        login_body={"user": "{username}", "pass": "{password}", "tier": "{tier_key}"},
        api_headers={"Authorization": "Bearer {token}", "X-Region": "{region}"},
    )
    given = {"username": "u", "password": "p", "region": "EU-1", "tier_key": "GOLD-KEY-1"}
    # Matched without regard to case, kept as the vendor spells it.
    values = vendor.resolve_options(given)
    assert (values["region"], values["tier_key"]) == ("eu-1", "gold-key-1")
    with pytest.raises(ConfigError) as plain:
        vendor.resolve_options({**given, "region": "mars-1"})
    assert str(plain.value) == "Acme argument region= got 'mars-1'; use one of: eu-1, us-1"
    with pytest.raises(ConfigError) as secret:
        vendor.resolve_options({**given, "tier_key": "bronze-key-9"})
    assert str(secret.value) == (
        "Acme argument tier_key= got a hidden value; use one of: gold-key-1, silver-key-2"
    )
    assert "bronze-key-9" not in repr(secret.value.args) + repr(vars(secret.value))


def test_every_vendor_takes_a_user_name_a_password_and_a_base_url_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ACME.all_options()[:3] == (
        Option(
            "username",
            env=ACME.username_variable,
            required=True,
            help=f"your Acme {ACME.username_label}",
        ),
        Option(
            "password", env="ACME_PASSWORD", required=True, secret=True, help="your Acme password"
        ),
        Option("base_url", env="ACME_BASE_URL", default=ACME.base_url, help="API base URL"),
    )
    assert ACME.all_options()[3:] == ACME.options
    # As a user meets them: the help in the message, the variables read.
    with pytest.raises(ConfigError) as caught:
        ACME.resolve_options({"password": "p"})
    assert str(caught.value).startswith(
        f"Acme needs your Acme {ACME.username_label}: set argument username= or environment "
        f"variable {ACME.username_variable}"
    )
    monkeypatch.setenv("ACME_BASE_URL", "https://eu.acme.example")
    monkeypatch.setenv("ACME_PASSWORD", "from-env")
    values = ACME.resolve_options({"username": "u"})
    assert (values["base_url"], values["password"]) == ("https://eu.acme.example", "from-env")


def test_an_unknown_argument_is_refused_naming_every_argument_the_auth_takes() -> None:
    with pytest.raises(ConfigError) as caught:
        ACME.resolve_options({"username": "u", "pasword": "p", "region": "eu"})
    assert str(caught.value).startswith(
        "Acme auth got unknown argument(s) pasword, region; "
        "it takes: username, password, base_url, api_key"
    )
