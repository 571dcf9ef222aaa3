"""The core's plain values: errors, tokens, login calls and answers, as callers see them.

No sandbox and no network: each test builds the object it is about and checks what a caller
relies on (attributes, messages, round trips, repr) and that no secret leaks out.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import threading
import time
from typing import Any

import pytest

from auth_plugins.core.errors import (
    AuthPluginError,
    LoginError,
    RateLimited,
    TwoFactorRequired,
)
from auth_plugins.core.messages import Answer, Call, Headers, json_call
from auth_plugins.core.tokens import MAX_STORED_TOKEN, Token

SECRET = "s3cr3t-password-value"
#: What Token.from_dict says of anything that is not a token it stored.
NOT_STORED = r"^not a stored token$"


class FakeResponse:
    """What a client's response looks like to an error: a status, a live connection, a secret.

    The lock stands for the open connection (it cannot be pickled); the request's
    headers hold the API secret that was sent.
    """

    def __init__(self, status_code: Any = 401) -> None:
        self.status_code = status_code
        self.connection = threading.Lock()
        self.request_headers = {"Authorization": f"Bearer {SECRET}"}


def twins(error: AuthPluginError) -> list[Any]:
    """The error as it comes back from another process, and as a deep copy."""
    return [pickle.loads(pickle.dumps(error)), copy.deepcopy(error)]


# -- messages and hints -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AuthPluginError, LoginError, RateLimited])
def test_an_error_without_a_hint_says_just_its_summary(cls: type[AuthPluginError]) -> None:
    # The message a user reads is exactly what was raised: no advice is made up.
    error = cls("Login failed")
    assert str(error) == "Login failed"
    assert error.message == error.summary == "Login failed"
    assert error.hint == ""
    assert error.args == ("Login failed",)
    assert repr(error) == f"{cls.__name__}('Login failed')"


def test_a_two_factor_demand_without_a_hint_says_just_its_summary() -> None:
    error = TwoFactorRequired("Two-factor needed", pending_login_id="p1", providers=[1])
    assert str(error) == "Two-factor needed"
    assert error.hint == ""
    assert error.args == ("Two-factor needed",)


@pytest.mark.parametrize(
    "summary",
    ["Login failed", "Login failed.", "Login failed. ", "Login failed...", "Login failed . "],
)
def test_a_hint_follows_the_summary_after_one_full_stop(summary: str) -> None:
    error = AuthPluginError(summary, hint="Check the password.")
    assert str(error) == "Login failed. Check the password."
    assert error.args == ("Login failed. Check the password.",)
    assert error.summary == summary  # the summary itself is kept as raised


@pytest.mark.parametrize(
    "summary", [".env file unreadable", "No login for MAX", "Bad answer (HTTP 500)"]
)
def test_only_trailing_dots_and_spaces_are_trimmed_before_a_hint(summary: str) -> None:
    # Leading characters and trailing letters/punctuation belong to the summary: never cut.
    error = AuthPluginError(summary, hint="Try again.")
    assert str(error) == f"{summary}. Try again."


def test_a_front_end_can_replace_the_hint_and_remove_it() -> None:
    error = LoginError("Login failed", hint="Run `auth-plugins login`.")
    assert error.with_hint("Use --auth.") is error
    assert str(error) == "Login failed. Use --auth."
    error.with_hint("")
    assert str(error) == "Login failed"
    assert error.args == ("Login failed",)
    assert error.hint == ""


# -- attributes -------------------------------------------------------------------------------


def test_a_login_error_takes_its_status_from_the_response() -> None:
    response = FakeResponse(403)
    error = LoginError("Login refused", response=response)
    assert error.status == 403
    assert error.response is response


def test_an_explicit_status_wins_over_the_response() -> None:
    assert LoginError("x", response=FakeResponse(403), status=429).status == 429


@pytest.mark.parametrize("odd", ["401", None, 401.0])
def test_a_status_that_is_not_an_int_is_not_taken(odd: Any) -> None:
    # A mock or an odd client object must not put a string or float where an int is promised.
    assert LoginError("x", response=FakeResponse(odd)).status is None


def test_a_login_error_without_a_response_has_no_status() -> None:
    error = LoginError("x")
    assert error.status is None
    assert error.response is None
    assert error.code is None


def test_rate_limited_keeps_its_response_code_and_wait() -> None:
    response = FakeResponse(429)
    error = RateLimited("Too many logins", response=response, retry_after=12.5, code="throttled")
    assert error.response is response
    assert error.status == 429
    assert error.code == "throttled"
    assert error.retry_after == 12.5
    assert error.local is False


def test_two_factor_required_keeps_what_the_next_steps_need() -> None:
    response = FakeResponse(403)
    error = TwoFactorRequired(
        "Two-factor needed", pending_login_id="p-42", providers=(1, 2), response=response
    )
    assert error.code == "pending_login"
    assert error.pending_login_id == "p-42"
    assert error.providers == [1, 2]
    assert error.response is response
    assert error.status == 403


# -- crossing process boundaries ----------------------------------------------------------------


def test_a_pickled_error_keeps_every_field_but_the_response() -> None:
    error = RateLimited(
        "Too many logins", response=FakeResponse(429), retry_after=3.0, code="c", hint="Wait."
    )
    for twin in twins(error):
        assert type(twin) is RateLimited
        assert str(twin) == "Too many logins. Wait."
        assert twin.args == ("Too many logins. Wait.",)
        assert (twin.summary, twin.hint) == ("Too many logins", "Wait.")
        assert (twin.status, twin.code, twin.retry_after) == (429, "c", 3.0)
        assert twin.response is None


def test_a_pickled_two_factor_demand_can_still_be_finished() -> None:
    error = TwoFactorRequired("2FA", pending_login_id="p-7", providers=[3])
    for twin in twins(error):
        assert isinstance(twin, TwoFactorRequired)
        assert (twin.pending_login_id, twin.providers, twin.code) == ("p-7", [3], "pending_login")
        assert twin.args == ("2FA",)


def test_a_pickled_error_leaves_the_response_and_its_secrets_behind() -> None:
    # The response holds a live connection (not picklable) and the request that was sent.
    error = LoginError("Login refused", response=FakeResponse(401))
    data = pickle.dumps(error)
    assert SECRET.encode() not in data
    assert b"FakeResponse" not in data
    twin = pickle.loads(data)
    assert twin.response is None
    assert twin.status == 401
    assert copy.deepcopy(error).response is None


# -- tokens: repr -------------------------------------------------------------------------------


def test_a_token_repr_hides_the_token_and_says_when_nothing_is_known() -> None:
    token = Token(SECRET)
    assert repr(token) == "<Token access_token=*** expires_in=unknown refresh_token=no>"
    assert str(token) == repr(token)


def test_a_token_repr_shows_its_life_left_and_that_it_can_be_refreshed() -> None:
    token = Token(SECRET, refresh_token=SECRET + "-refresh", expires_at=time.time() + 3600.4)
    text = repr(token)
    assert SECRET not in text
    match = re.fullmatch(r"<Token access_token=\*\*\* expires_in=(\d+)s refresh_token=yes>", text)
    assert match is not None, text
    assert 3590 <= int(match.group(1)) <= 3600


def test_a_token_repr_counts_down_a_sliding_window_too() -> None:
    token = Token(SECRET, idle_timeout=300.0, last_used=time.time())
    assert re.fullmatch(
        r"<Token access_token=\*\*\* expires_in=(29\d|300)s refresh_token=no>", repr(token)
    )


# -- tokens: expiry boundaries --------------------------------------------------------------------


def test_expires_in_is_counted_from_the_given_now() -> None:
    token = Token("t", expires_at=1000.0, issued_at=0.0)
    assert token.expires_in(now=900.0) == 100.0
    assert token.expires_in(now=1100.0) == -100.0
    assert (
        Token("t", idle_timeout=300.0, issued_at=0.0, last_used=50.0).expires_in(now=50.0) == 300.0
    )
    assert Token("t").expires_in(now=0.0) is None


def test_with_no_leeway_a_token_is_good_until_its_last_instant() -> None:
    # The default leeway is none: a caller asking plainly gets the token's own end of life.
    token = Token("t", expires_at=1000.0, issued_at=0.0)
    assert not token.is_expired(now=999.9)
    assert token.is_expired(now=1000.0)


def test_a_sub_second_token_is_renewed_only_in_the_last_quarter_of_its_life() -> None:
    # A 0.5 s life with a 30 s leeway: renewal starts 0.125 s before the end, not earlier.
    token = Token("t", expires_at=100.5, issued_at=100.0)
    assert not token.is_expired(30.0, now=100.374)
    assert token.is_expired(30.0, now=100.375)


def test_a_token_issued_already_expired_gets_no_leeway() -> None:
    # Clock skew: the vendor's end of life is at or before our issue time; the leeway is 0.
    token = Token("t", expires_at=100.0, issued_at=100.0)
    assert not token.is_expired(30.0, now=99.9)
    assert token.is_expired(30.0, now=100.0)
    skewed = Token("t", expires_at=90.0, issued_at=100.0)
    assert not skewed.is_expired(30.0, now=89.9)
    assert skewed.is_expired(30.0, now=90.0)


# -- tokens: the stored form ----------------------------------------------------------------------


def full_token() -> Token:
    return Token(
        "access-1",
        refresh_token="refresh-1",
        expires_at=2000.5,
        idle_timeout=300.0,
        issued_at=1000.25,
        last_used=1500.0,
        extra={"token_type": "customer", "scope": ["read"]},
    )


def test_a_stored_token_has_every_field_under_its_documented_name() -> None:
    # Token stores on disk and in Redis are read by other processes and later versions.
    assert full_token().to_dict() == {
        "access_token": "access-1",
        "refresh_token": "refresh-1",
        "expires_at": 2000.5,
        "idle_timeout": 300.0,
        "issued_at": 1000.25,
        "last_used": 1500.0,
        "extra": {"token_type": "customer", "scope": ["read"]},
    }


def test_a_token_round_trips_through_its_stored_form() -> None:
    token = full_token()
    assert Token.from_dict(token.to_dict()) == token
    assert Token.from_dict(json.loads(json.dumps(token.to_dict()))) == token


def test_a_stored_token_written_by_hand_is_read_field_by_field() -> None:
    token = Token.from_dict(
        {"access_token": "a", "expires_at": 123, "issued_at": 100, "extra": {"k": "v"}}
    )
    assert token.expires_at == 123.0
    assert token.issued_at == 100.0
    assert token.extra == {"k": "v"}
    assert token.refresh_token is None
    assert token.idle_timeout is None
    assert token.last_used is None


@pytest.mark.parametrize("odd", [float("inf"), float("-inf"), float("nan"), "123", True, 10**400])
def test_an_odd_stored_time_is_read_as_unknown(odd: Any) -> None:
    token = Token.from_dict({"access_token": "a", "expires_at": odd, "idle_timeout": odd})
    assert token.expires_at is None
    assert token.idle_timeout is None


@pytest.mark.parametrize("odd", [None, [], "x", 1])
def test_odd_stored_extras_are_read_as_empty(odd: Any) -> None:
    assert Token.from_dict({"access_token": "a", "extra": odd}).extra == {}


def test_a_stored_token_of_exactly_the_maximum_length_is_read_one_more_is_not() -> None:
    longest = "a" * MAX_STORED_TOKEN
    assert Token.from_dict({"access_token": longest}).access_token == longest
    assert Token.from_dict({"access_token": "a", "refresh_token": longest}).refresh_token == longest
    with pytest.raises(ValueError, match=NOT_STORED):
        Token.from_dict({"access_token": longest + "a"})
    with pytest.raises(ValueError, match=NOT_STORED):
        Token.from_dict({"access_token": "a", "refresh_token": longest + "a"})


@pytest.mark.parametrize("bad", ["", "two words", "tab\tin", "caf\u00e9", "new\nline", 42, None])
def test_a_stored_token_that_could_not_go_into_a_header_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=NOT_STORED):
        Token.from_dict({"access_token": bad})


@pytest.mark.parametrize("bad", ["", "two words", "caf\u00e9", 42])
def test_a_stored_refresh_token_that_could_not_be_sent_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=NOT_STORED):
        Token.from_dict({"access_token": "a", "refresh_token": bad})


@pytest.mark.parametrize("bad", [None, [], "token", {"refresh_token": "r"}])
def test_what_is_not_a_stored_token_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=NOT_STORED):
        Token.from_dict(bad)


# -- login calls and answers ----------------------------------------------------------------------


def a_call(url: str, headers: dict[str, str] | None = None) -> Call:
    return json_call("TeamUp", "login", url, {"password": SECRET}, headers or {}, 10.0)


def test_a_json_call_posts_json_and_asks_for_json() -> None:
    call = a_call("https://api.example/login", {"X-Key": "k"})
    assert call.method == "POST"
    assert dict(call.headers) == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-Key": "k",
    }
    assert json.loads(call.body) == {"password": SECRET}
    assert (call.vendor, call.what, call.timeout) == ("TeamUp", "login", 10.0)


def test_a_vendor_header_replaces_the_default_instead_of_doubling_it() -> None:
    # HTTP names are case-insensitive: two spellings of Content-Type would send it twice.
    call = a_call(
        "https://api.example/login",
        {"Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"},
    )
    assert dict(call.headers) == {
        "Accept": "application/vnd.api+json",
        "Content-Type": "application/vnd.api+json",
    }


def test_a_call_repr_names_the_step_but_never_the_body_or_query() -> None:
    call = a_call(f"https://api.example/login?key={SECRET}&next=/a?b=c", {"x-secret": SECRET})
    assert repr(call) == "<Call TeamUp login: POST https://api.example/login>"
    plain = a_call("https://api.example/login")
    assert repr(plain) == "<Call TeamUp login: POST https://api.example/login>"


def test_headers_repr_shows_names_as_sent_and_first_values() -> None:
    headers = Headers([("Content-Type", "application/json"), ("content-type", "text/plain")])
    assert repr(headers) == "Headers({'Content-Type': 'application/json'})"
    assert repr(Headers()) == "Headers({})"


def test_an_absurdly_nested_answer_is_a_value_error_that_says_so() -> None:
    depth = 100_000
    answer = Answer(200, body=b"[" * depth + b"]" * depth)
    with pytest.raises(ValueError, match=r"^JSON nested too deeply$"):
        answer.json()
