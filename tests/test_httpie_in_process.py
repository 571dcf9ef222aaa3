"""The HTTPie plugin in this process: its classes, ``LazyVendorAuth`` and ``httpie.core.main``.

test_httpie.py runs the real ``http`` command; what it checks there in a
subprocess (plugin descriptions, the vendor picked by URL, the verify setting
of a login) is checked here in this process, against the sandbox over loopback.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest
import requests
from test_httpie import error_lines, httpie
from test_secret_cli import vendor_settings  # noqa: F401  (autouse: the sandbox's settings)

from auth_plugins.adapters.httpie import (
    LazyVendorAuth,
    TeamUpPlugin,
    Up2MoneyPlugin,
    VendorPlugin,
    httpie_auth_plugin,
)
from auth_plugins.errors import ConfigError
from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)

TEAMUP_USER = f"{DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}"
NO_VENDOR_ADVICE = "use --auth-type VENDOR, or set the vendor's *_BASE_URL"


def error_line(stderr: str) -> str:
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


# -- the plugin classes ----------------------------------------------------------------------


def test_builtin_plugin_classes_as_httpie_lists_them() -> None:
    from httpie.plugins.registry import plugin_manager

    plugin_manager.load_installed_plugins()
    mapping = plugin_manager.get_auth_plugin_mapping()
    assert mapping["teamup"] is TeamUpPlugin
    assert mapping["up2money"] is Up2MoneyPlugin
    assert mapping["auth-plugins"] is VendorPlugin

    assert TeamUpPlugin.__name__ == "TeamupHTTPiePlugin"
    assert TeamUpPlugin.__doc__ == "HTTPie ``--auth-type teamup``."
    assert TeamUpPlugin.name == "teamup password login"
    assert TeamUpPlugin.auth_type == "teamup"
    assert TeamUpPlugin.description == (
        "TeamUp API v2 login. -a EMAIL[:PASSWORD], or TEAMUP_USERNAME/TEAMUP_PASSWORD; "
        "needs TEAMUP_DIRECT_AUTH_KEY. Tokens are kept between runs."
    )
    assert Up2MoneyPlugin.name == "up2money password login"
    assert Up2MoneyPlugin.description == (
        "up2.money login. -a EMAIL[:TOKENIZED_PASSWORD], or UP2MONEY_EMAIL/UP2MONEY_PASSWORD; "
        "needs UP2MONEY_SECRET. Tokens are kept between runs."
    )
    # -a is optional and HTTPie never asks for the password itself.
    for plugin in (TeamUpPlugin, Up2MoneyPlugin, VendorPlugin):
        assert (plugin.auth_require, plugin.netrc_parse, plugin.prompt_password) == (
            False,
            True,
            False,
        )


def test_a_third_party_vendor_gets_a_plugin_class_from_its_name() -> None:
    plugin = httpie_auth_plugin("acme-corp")
    assert plugin.__name__ == "AcmeCorpHTTPiePlugin"
    assert plugin.__doc__ == "HTTPie ``--auth-type acme-corp``."
    assert plugin.name == "acme-corp password login"
    assert plugin.auth_type == "acme-corp"
    assert plugin.description == (
        "log in to acme-corp with a password; -a USER[:PASSWORD] or environment variables"
    )
    auth = plugin().get_auth("bob", "bob-password")
    assert auth.vendor == "acme-corp"
    assert repr(auth) == "<auth-plugins acme-corp auth for bob, password=***>"

    described = httpie_auth_plugin("acme", "Acme Corp API")
    assert described.description == "Acme Corp API"
    assert described.__name__ == "AcmeHTTPiePlugin"


def test_get_auth_keeps_only_the_user_name_for_sessions_and_debug_output() -> None:
    plugin = TeamUpPlugin()
    auth = plugin.get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    assert plugin.raw_auth == DEMO_TEAMUP_USERNAME
    assert repr(auth) == f"<auth-plugins teamup auth for {DEMO_TEAMUP_USERNAME}, password=***>"

    nobody = plugin.get_auth(None, None)
    assert plugin.raw_auth == ""
    assert repr(nobody) == (
        "<auth-plugins teamup auth for (user from the environment), password=***>"
    )

    anyone = VendorPlugin().get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    assert anyone.vendor is None
    assert repr(anyone) == (
        f"<auth-plugins any vendor auth for {DEMO_TEAMUP_USERNAME}, password=***>"
    )


# -- the vendor chosen by URL (--auth-type auth-plugins) ---------------------------------------


def test_a_query_right_after_the_base_url_picks_that_vendor(sandbox: Sandbox) -> None:
    auth = VendorPlugin().get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    with requests.Session() as session:
        session.get(f"{sandbox.teamup_url}?page=2", auth=auth, timeout=10)
    assert sandbox.logins("teamup") == 1
    last = sandbox.received[-1]
    assert last.path == "/teamup/api/v2?page=2"
    assert last.headers["Authorization"].startswith("Bearer ")


def test_a_base_url_setting_ending_in_a_slash_still_matches(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_BASE_URL", sandbox.teamup_url + "/")
    status, stdout, stderr = httpie(
        "-A", "auth-plugins", "-a", TEAMUP_USER, f"{sandbox.teamup_url}/customers"
    )
    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    assert sandbox.logins("teamup") == 1


def test_no_vendor_for_the_url_names_every_base_url_and_the_fix(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/elsewhere"
    status, stdout, stderr = httpie("-A", "auth-plugins", "-a", TEAMUP_USER, url)
    assert status == 1
    assert stdout == ""
    line = error_line(stderr)
    start = f"http: error: ConfigError: no installed vendor has a base URL that {url} starts with ("
    assert line.startswith(start)
    assert line.endswith(f"); {NO_VENDOR_ADVICE}")
    # One "name base" per installed vendor, separated by "; " (plugins may add more).
    listed = line[len(start) : -len(f"); {NO_VENDOR_ADVICE}")].split("; ")
    assert f"teamup {sandbox.teamup_url}" in listed
    assert f"up2money {sandbox.up2money_url}" in listed
    assert sandbox.received == []


def test_a_request_without_a_url_matches_no_vendor(sandbox: Sandbox) -> None:
    auth = LazyVendorAuth(None, DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    with pytest.raises(ConfigError) as caught:
        auth(requests.PreparedRequest())
    assert str(caught.value).startswith("no installed vendor has a base URL that  starts with (")
    assert str(caught.value).endswith(NO_VENDOR_ADVICE)


# -- response hooks --------------------------------------------------------------------------


def test_the_callers_own_response_hooks_are_left_as_they_were(sandbox: Sandbox) -> None:
    seen: list[int] = []

    def mine(response: requests.Response, **kwargs: Any) -> None:
        seen.append(response.status_code)

    auth = TeamUpPlugin().get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    request = requests.Request("GET", f"{sandbox.teamup_url}/customers", hooks={"response": mine})
    prepared = auth(request.prepare())
    hooks = prepared.hooks["response"]
    assert hooks[0] is mine
    assert len(hooks) == 2  # and the auth's own, which logs in on the 401
    with requests.Session() as session:
        answer = session.send(prepared, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["count"] == 2
    assert seen == [401]  # the token-less first try; the auth's hook sent it again
    assert sandbox.logins("teamup") == 1


def test_a_relogin_in_the_response_hook_uses_the_callers_verify(
    auth_plugins_sandbox_tls: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = auth_plugins_sandbox_tls
    monkeypatch.setenv("TEAMUP_BASE_URL", tls.teamup_url)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    auth = TeamUpPlugin().get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    # No stored token: the request goes out without one and the guarded hook logs in on
    # the 401 over the caller's connection, trusting the caller's CA file.
    with requests.Session() as session:
        answer = session.get(f"{tls.teamup_url}/customers", auth=auth, verify=tls.ca_file)
    assert answer.status_code == 200
    assert answer.json()["count"] == 2
    assert [r.status_code for r in answer.history] == [401]
    assert tls.logins("teamup") == 1


# -- what the auth asks at a terminal, and what it says without one ----------------------------


class TerminalInput(io.StringIO):
    """What a person types at a terminal: lines to read, and a tty to ask on."""

    def isatty(self) -> bool:
        return True


def test_user_without_a_password_or_terminal_is_told_every_way_to_give_it(
    sandbox: Sandbox,
) -> None:
    status, stdout, stderr = httpie(
        "-A", "teamup", "-a", "bob@example.com", f"{sandbox.teamup_url}/customers"
    )
    assert status == 1
    assert stdout == ""
    assert error_line(stderr) == (
        "http: error: ConfigError: TeamUp needs the password of bob@example.com to log in: "
        "give -a USER:PASSWORD, set TEAMUP_PASSWORD or TEAMUP_PASSWORD_COMMAND (a command "
        "printing it), keep it in the system keyring (auth-plugins login teamup "
        "bob@example.com), or run in a terminal to be asked"
    )
    assert sandbox.login_attempts("teamup") == 0


def test_two_factor_login_at_a_terminal_through_httpie(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = f"{DEMO_TEAMUP_TWO_FACTOR_PHONE}\n{DEMO_SMS_CODE}\n"
    monkeypatch.setattr(sys, "stdin", TerminalInput(typed))
    user = f"{DEMO_TEAMUP_TWO_FACTOR_USERNAME}:{DEMO_TEAMUP_TWO_FACTOR_PASSWORD}"
    status, stdout, stderr = httpie("-A", "teamup", "-a", user, f"{sandbox.teamup_url}/customers")
    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    # The prompts go to the terminal (this process's stderr), not into HTTPie's output.
    assert capsys.readouterr().err == (
        "TeamUp asks for a two-factor login.\nPhone number for the SMS code: SMS code: "
    )
    assert sandbox.logins("teamup", DEMO_TEAMUP_TWO_FACTOR_USERNAME) == 1
