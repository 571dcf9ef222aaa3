"""Reading vendors' answers (``core.answers``): plain answers in, a token or a typed error out.

What a user sees of a failed login is the error's type and message: the type
says what to do (wait, fix the password, retry later) and the message quotes the
vendor on one short line with secrets hidden. What a caller relies on of a good
login is the :class:`Token`: its expiry, its refresh token and its issue time.
Every number here comes from a server and must be bounded. No HTTP, no clock:
``now`` is always given.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
from typing import Any, Optional

import pytest

from auth_plugins.core.answers import (
    CODE_LIMIT,
    MAX_LIFETIME,
    MAX_RETRY_AFTER,
    MAX_TOKEN_LENGTH,
    MIN_LIFETIME,
    login_error,
    read_json,
    read_token,
    retry_after,
)
from auth_plugins.core.errors import (
    AccountLocked,
    InvalidCredentials,
    LoginError,
    RateLimited,
)
from auth_plugins.core.messages import (
    MAX_ANSWER_BYTES,
    MAX_COMPRESSED_ERROR,
    MAX_WIRE_BYTES,
    Answer,
    Headers,
    cut_short,
    error_body_worth_reading,
)
from auth_plugins.core.text import QUOTE_LIMIT, quote, secret_values
from auth_plugins.core.tokens import Token
from auth_plugins.core.vendor import Vendor

PASSWORD = "correct-horse-battery"
#: A fixed "now" (November 2023): every time below is relative to it.
NOW = 1_700_000_000.0
#: The life the test vendor gives a token whose answer does not state one.
FIXED_LIFE = 600.0

#: A vendor with no hooks: answers are read by the common shapes.
ACME = Vendor(
    name="acme",
    title="Acme",
    base_url="https://acme.example/api",
    login_path="/login",
    login_body={"user": "{username}", "password": "{password}"},
    env_prefix="ACME",
    expires_in_field="expires_in",
    refresh_token_field="refresh_token",
    token_lifetime=FIXED_LIFE,
    status_messages={502: "the gateway is down"},
)


def json_answer(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Answer:
    """An answer with a JSON body, as a vendor sends it."""
    return Answer(
        status,
        Headers({"Content-Type": "application/json", **(headers or {})}),
        json.dumps(payload).encode(),
    )


def token_from(payload: Any, vendor: Vendor = ACME) -> Token:
    """The token read from a 200 answer carrying ``payload``."""
    return read_token(vendor, json_answer(200, payload), [PASSWORD], idle_timeout=None, now=NOW)


def refused(answer: Answer, **kwargs: Any) -> LoginError:
    """The error ``read_token`` raises for ``answer``."""
    with pytest.raises(LoginError) as caught:
        read_token(ACME, answer, [PASSWORD], idle_timeout=None, now=NOW, **kwargs)
    return caught.value


def http_date(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)


# -- the token that comes out -----------------------------------------------------------------


def test_a_token_is_issued_now_and_lives_as_long_as_the_answer_says() -> None:
    # Expiry and the sliding window are reckoned from issued_at: it must be the
    # login's time, not whenever the Token object happened to be built.
    token = token_from({"access_token": "tok", "expires_in": 60})
    assert token.access_token == "tok"
    assert token.issued_at == NOW
    assert token.expires_at == NOW + 60


@pytest.mark.parametrize(
    "stated",
    [
        pytest.param(None, id="not-stated"),
        pytest.param("soon", id="text"),
        pytest.param(True, id="boolean"),
        pytest.param(0, id="zero"),
        pytest.param(-5, id="negative"),
        pytest.param(-(10**400), id="huge-negative-integer"),
    ],
)
def test_without_a_usable_stated_life_the_vendors_fixed_life_is_used(stated: Any) -> None:
    # A token already dead on arrival (0, negative) is not believed: the vendor's
    # documented life is used instead, not "a second" and not "a year".
    payload: dict[str, Any] = {"access_token": "tok"}
    if stated is not None:
        payload["expires_in"] = stated
    assert token_from(payload).expires_at == NOW + FIXED_LIFE


@pytest.mark.parametrize(
    ("stated", "life"),
    [
        (30, 30.0),
        (1e-9, MIN_LIFETIME),
        (MAX_LIFETIME + 1, MAX_LIFETIME),
        (10**400, MAX_LIFETIME),
    ],
)
def test_a_stated_life_is_bounded(stated: float, life: float) -> None:
    # A server cannot make every request a login (1e-9) or a token trusted for ever.
    assert token_from({"access_token": "tok", "expires_in": stated}).expires_at == NOW + life


def test_a_vendor_without_a_fixed_life_gives_tokens_without_expiry() -> None:
    unknown_life = dataclasses.replace(ACME, token_lifetime=None)
    assert token_from({"access_token": "tok"}, unknown_life).expires_at is None
    assert token_from({"access_token": "tok", "expires_in": 0}, unknown_life).expires_at is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        pytest.param("r", "r", id="one-character"),
        pytest.param("r" * MAX_TOKEN_LENGTH, "r" * MAX_TOKEN_LENGTH, id="longest"),
        pytest.param("r" * (MAX_TOKEN_LENGTH + 1), None, id="too-long"),
        pytest.param("", None, id="empty"),
        pytest.param("has space", None, id="space"),
        pytest.param("r\u00e4", None, id="non-ascii"),
        pytest.param(42, None, id="number"),
    ],
)
def test_a_refresh_token_is_kept_only_when_it_can_be_sent_back(
    given: Any, kept: Optional[str]
) -> None:
    # A refresh token that cannot go into a request (or be read back from a
    # store) is dropped: the next renewal logs in instead of failing oddly.
    token = token_from({"access_token": "tok", "refresh_token": given})
    assert token.refresh_token == kept


@pytest.mark.parametrize(
    ("access_token", "says"),
    [
        pytest.param(None, "without a token: no text at 'access_token'", id="missing"),
        pytest.param(
            "abc def",
            "with a token that cannot be sent in a header "
            "(it holds spaces, control or non-ASCII characters)",
            id="space",
        ),
        pytest.param(
            "a" * (MAX_TOKEN_LENGTH + 1),
            f"with a token of {MAX_TOKEN_LENGTH + 1} characters",
            id="too-long",
        ),
    ],
)
def test_a_login_answer_without_a_usable_token_is_a_login_error_with_its_status(
    access_token: Optional[str], says: str
) -> None:
    # A token with a space would break the Authorization header later, deep in
    # the HTTP client; it is refused here, saying why, with the answer's status.
    payload = {} if access_token is None else {"access_token": access_token}
    error = refused(json_answer(200, payload))
    assert type(error) is LoginError
    assert error.status == 200
    assert str(error).startswith("Acme login answered HTTP 200 ")
    assert says in str(error)


# -- answers that are not JSON ----------------------------------------------------------------


def test_a_non_json_answer_is_described_and_the_base_url_questioned() -> None:
    answer = Answer(200, Headers({"Content-Type": "text/html"}), b"<html>")
    with pytest.raises(LoginError) as caught:
        read_json(ACME, answer)
    assert str(caught.value) == (
        "Acme login answered HTTP 200 with text/html (6 bytes), not the JSON it documents; "
        "is the base URL right?"
    )
    assert caught.value.status == 200


def test_an_answer_without_a_content_type_says_so() -> None:
    error = refused(Answer(200, Headers(), b"nope"))
    assert "with no content type (4 bytes)," in str(error)


def test_a_secret_echoed_in_the_content_type_is_hidden() -> None:
    # A hostile server can put anything in a header, the password it was sent too.
    answer = Answer(200, Headers({"Content-Type": f"text/plain; echo={PASSWORD}"}), b"nope")
    message = str(refused(answer))
    assert PASSWORD not in message
    assert "text/plain; echo=***" in message


def test_a_long_content_type_is_clipped() -> None:
    answer = Answer(200, Headers({"Content-Type": "application/" + "x" * 200}), b"nope")
    message = str(refused(answer))
    clipped = ("application/" + "x" * 200)[: CODE_LIMIT - 3] + "..."
    assert f"with {clipped} (4 bytes)" in message


def test_an_oversized_answer_is_not_read_even_if_its_start_parses() -> None:
    # Only the start of an oversized answer is kept; whatever it seems to say is
    # not believed (it may be padding after a small JSON, or the start of a lie).
    answer = Answer(
        200,
        Headers({"Content-Type": "application/json"}),
        json.dumps({"access_token": "tok"}).encode(),
        oversized=True,
    )
    error = refused(answer)
    assert "(more than 23 bytes, more than a login answer can be)" in str(error)


def test_an_oversized_answer_that_decoded_to_nothing_is_not_called_empty() -> None:
    # A body that decodes to nothing but runs on (empty gzip blocks) is cut by the
    # bytes on the wire: the server sent too much, not nothing.
    answer = Answer(200, Headers({"Content-Type": "application/json"}), b"", oversized=True)
    assert str(refused(answer)).startswith(
        "Acme login answered HTTP 200 with application/json (more than a login answer can be)"
    )


def test_a_refresh_names_itself_in_its_errors() -> None:
    # The user must know which call failed: the login or the token refresh.
    failed = refused(json_answer(400, {"message": "expired"}), what="token refresh")
    assert str(failed).startswith("Acme token refresh failed: HTTP 400")
    not_json = refused(Answer(200, Headers(), b"nope"), what="token refresh")
    assert str(not_json).startswith("Acme token refresh answered HTTP 200 with")


# -- failed logins: the message ---------------------------------------------------------------


def test_an_error_answer_without_a_body_says_only_its_status_and_reason() -> None:
    assert str(login_error(ACME, Answer(500))) == "Acme login failed: HTTP 500 error"
    with_reason = Answer(500, reason="Internal Server Error")
    assert str(login_error(ACME, with_reason)) == (
        "Acme login failed: HTTP 500 Internal Server Error"
    )


def test_a_vendors_word_for_a_status_replaces_the_reason() -> None:
    error = login_error(ACME, Answer(502, reason="Bad Gateway"))
    assert str(error) == "Acme login failed: HTTP 502 the gateway is down"


def test_a_long_reason_and_code_are_clipped() -> None:
    answer = json_answer(500, {"code": "C" * 100})
    answer = Answer(answer.status, answer.headers, answer.body, reason="R" * 100)
    error = login_error(ACME, answer)
    assert error.code == "C" * (CODE_LIMIT - 3) + "..."
    assert str(error) == (f"Acme login failed: HTTP 500 {'R' * (CODE_LIMIT - 3)}... [{error.code}]")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"code": "E1"}, "E1"),
        ({"errorCode": "E2"}, "E2"),
        ({"response": {"errorCode": "E3"}}, "E3"),
        ({"code": 5, "errorCode": "E2"}, "E2"),
        ({"message": "no code here"}, None),
        ({"code": 5}, None),
    ],
)
def test_the_vendors_error_code_is_found_in_the_common_shapes(
    payload: dict[str, Any], code: Optional[str]
) -> None:
    # Callers branch on error.code; it is also shown in brackets.
    error = login_error(ACME, json_answer(500, payload))
    assert type(error) is LoginError
    assert error.code == code
    assert (f"[{code}]" in str(error)) is (code is not None)


def test_the_vendors_message_follows_the_code() -> None:
    answer = json_answer(400, {"code": "E1", "message": "Something broke"})
    answer = Answer(answer.status, answer.headers, answer.body, reason="Bad Request")
    assert str(login_error(ACME, answer)) == (
        "Acme login failed: HTTP 400 Bad Request [E1]: Something broke"
    )
    not_text = json_answer(400, {"code": "E1", "message": 7})
    assert str(login_error(ACME, not_text)) == "Acme login failed: HTTP 400 error [E1]"


def test_an_oversized_error_answer_is_not_quoted() -> None:
    answer = Answer(
        500,
        Headers({"Content-Type": "application/json"}),
        json.dumps({"code": "E1", "message": "believe me"}).encode(),
        oversized=True,
    )
    error = login_error(ACME, answer)
    assert error.code is None
    assert "believe me" not in str(error)
    assert "more than a login answer can be" in str(error)


def test_a_vendor_message_at_the_quote_limit_is_kept_whole_one_more_is_clipped() -> None:
    whole = str(login_error(ACME, json_answer(400, {"message": "m" * QUOTE_LIMIT})))
    assert whole.endswith(": " + "m" * QUOTE_LIMIT)
    clipped = str(login_error(ACME, json_answer(400, {"message": "m" * (QUOTE_LIMIT + 1)})))
    assert clipped.endswith(": " + "m" * (QUOTE_LIMIT - 3) + "...")


def test_a_clipped_vendor_message_has_no_space_before_the_ellipsis() -> None:
    text = "a" * (QUOTE_LIMIT - 4) + " " + "b" * 10  # the cut falls just after the space
    message = str(login_error(ACME, json_answer(400, {"message": text})))
    assert message.endswith(": " + "a" * (QUOTE_LIMIT - 4) + "...")


def test_control_characters_in_a_vendor_message_become_single_spaces() -> None:
    # Line breaks would forge log lines; terminal escapes would recolour a terminal.
    text = "line one\r\n\x1b[31mred\x07"
    message = str(login_error(ACME, json_answer(400, {"message": text})))
    assert message.endswith(": line one [31mred")


def test_only_the_start_of_a_huge_vendor_text_is_looked_at() -> None:
    # A megabyte of padding is not scanned whole: four times the limit, no more.
    assert quote(" " * 40 + "tail", 10) == ""
    assert quote(" " * 36 + "tail", 10) == "tail"


def test_a_secret_containing_another_is_hidden_whole() -> None:
    # Hiding "horse" first would leave "correct-" of the longer secret behind.
    answer = json_answer(400, {"message": "echo correct-horse"})
    message = str(login_error(ACME, answer, ["horse", "correct-horse"]))
    assert message.endswith(": echo ***")


# -- failed logins: the type and what to do ---------------------------------------------------


def test_a_locked_account_says_not_to_retry_and_when_it_unlocks() -> None:
    answer = json_answer(423, {"code": "locked"}, {"Retry-After": http_date(NOW + 1800)})
    error = login_error(ACME, answer, now=NOW)
    assert isinstance(error, AccountLocked)
    assert error.code == "locked"
    assert error.retry_after == 1800
    assert str(error).endswith(". Do not retry now: each attempt can extend the lock")


def test_refused_credentials_say_they_will_not_be_sent_again() -> None:
    error = login_error(ACME, json_answer(401, {"code": "bad_password"}))
    assert isinstance(error, InvalidCredentials)
    assert error.code == "bad_password"
    assert str(error).endswith(
        ". Check the credentials; they will not be sent again until they change "
        "or reset() is called"
    )


def test_a_rate_limit_without_a_wait_says_to_wait() -> None:
    error = login_error(ACME, json_answer(429, {"code": "slow_down"}))
    assert isinstance(error, RateLimited)
    assert error.code == "slow_down"
    assert error.retry_after is None
    assert error.hint == "Wait before retrying"
    assert str(error).endswith(". Wait before retrying")


@pytest.mark.parametrize("status", [429, 503])
def test_a_rate_limit_or_an_overload_says_how_long_to_wait(status: int) -> None:
    answer = json_answer(status, {}, {"Retry-After": http_date(NOW + 90)})
    error = login_error(ACME, answer, now=NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 90
    assert str(error).endswith(". Retry after 90s")


# -- numbers from servers: Retry-After --------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        pytest.param({"Retry-After": "120"}, 120.0, id="delay"),
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({"Retry-After": "-5"}, 0.0, id="negative"),
        pytest.param({"Retry-After": "999999"}, MAX_RETRY_AFTER, id="over-a-day"),
        pytest.param({"Retry-After": http_date(NOW + 90)}, 90.0, id="date"),
        pytest.param({"Retry-After": http_date(NOW - 90)}, 0.0, id="date-past"),
        pytest.param({"Retry-After": "soon"}, None, id="unreadable"),
        pytest.param({"Retry-After": "nan"}, None, id="nan"),
        pytest.param({"x-ratelimit-reset": "30"}, 30.0, id="reset-delay"),
        pytest.param({"x-ratelimit-reset": str(NOW + 45)}, 45.0, id="reset-epoch"),
        # Up to 1e9 (2001) the value is a delay; above it, a time since the epoch.
        pytest.param({"x-ratelimit-reset": "1000000000"}, MAX_RETRY_AFTER, id="reset-1e9"),
        pytest.param({"x-ratelimit-reset": "1000000001"}, 0.0, id="reset-past-epoch"),
        pytest.param({"x-ratelimit-reset": "soon"}, None, id="reset-unreadable"),
        pytest.param({}, None, id="none"),
    ],
)
def test_the_wait_a_server_asks_for_is_read_and_bounded(
    headers: dict[str, str], wait: Optional[float]
) -> None:
    assert retry_after(Answer(429, Headers(headers)), now=NOW) == wait


# -- secrets in vendors' own errors -----------------------------------------------------------


class EchoingError(LoginError):
    """A vendor plugin's error that keeps, like ``OSError``, a number among its args."""

    def __init__(self, message: str, attempt: int) -> None:
        super().__init__(message)
        self.echo = message
        self.args = (message, attempt)


def hook_raising(error: LoginError) -> Vendor:
    def hook(data: Any, answer: Answer) -> None:
        raise error

    return dataclasses.replace(ACME, login_answer_hook=hook)


def test_a_vendor_hooks_error_is_scrubbed_of_secrets() -> None:
    # A hook quotes what the server said, which a hostile server makes an echo
    # of the password: every text of the error is redacted, its args too.
    vendor = hook_raising(EchoingError(f"pending login for {PASSWORD}", 3))
    with pytest.raises(EchoingError) as caught:
        read_token(vendor, json_answer(200, {}), [PASSWORD], idle_timeout=None, now=NOW)
    error = caught.value
    assert error.args == ("pending login for ***", 3)
    assert error.echo == "pending login for ***"
    assert str(error) == "pending login for ***"


def test_secret_values_always_include_refresh_tokens_and_verification_keys() -> None:
    # ACME declares neither option: they are secrets whatever a vendor says.
    values = {
        "username": "alice",
        "password": "pw",
        "refresh_token": "rt",
        "verification_key": "vk",
        "direct_auth_key": "",
    }
    assert sorted(secret_values(ACME, values)) == ["pw", "rt", "vk"]


# -- API error bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "readable"),
    [
        ({"Content-Length": str(MAX_ANSWER_BYTES)}, True),
        ({"Content-Length": str(MAX_ANSWER_BYTES + 1)}, False),
        ({"Content-Length": str(MAX_COMPRESSED_ERROR + 1)}, True),
        ({"Content-Length": str(MAX_COMPRESSED_ERROR), "Content-Encoding": "gzip"}, True),
        ({"Content-Length": str(MAX_COMPRESSED_ERROR + 1), "Content-Encoding": "gzip"}, False),
        ({"Content-Length": "12a"}, False),
    ],
)
def test_an_api_error_body_is_read_up_to_its_limit_exactly(
    headers: dict[str, str], readable: bool
) -> None:
    # A compressed body is held to a smaller limit: it may inflate a thousandfold.
    assert error_body_worth_reading(Headers(headers)) is readable


# -- answers that broke off ---------------------------------------------------------------------


def test_an_answer_cut_short_says_the_server_answered_and_names_only_the_error_type() -> None:
    # Its text may quote the request (the password in a body): only the type is named.
    cause = ConnectionResetError(f"reset while sending password={PASSWORD}")
    error = cut_short("Acme login", "https://api.example.com/login", 200, cause)
    assert isinstance(error, LoginError)
    assert error.summary == (
        "Acme login answered HTTP 200, but its body could not be read whole "
        "(ConnectionResetError) (https://api.example.com/login)"
    )
    assert error.status == 200
    assert error.hint == (
        "Try again later; if it goes on, the server or something between (a proxy) "
        "breaks its answers"
    )
    assert PASSWORD not in repr(error.args) + repr(vars(error))


def test_the_wire_limit_leaves_room_for_framing_around_a_whole_answer() -> None:
    # Chunk lines and compression add to a body on the wire; a real answer is far below.
    assert MAX_WIRE_BYTES == 4 * MAX_ANSWER_BYTES == 256 * 1024
