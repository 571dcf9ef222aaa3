"""Tests of the sandbox itself: real HTTP on loopback with plain ``requests``, no mocks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import run_threads

from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_STEPUP_CODE,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_CORPORATE_EMAIL,
    DEMO_UP2MONEY_CORPORATE_PASSWORD,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
    TeamUpConfig,
    TeamUpUser,
    Up2MoneyConfig,
    main,
)

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5  # seconds: every request to the loopback sandbox is bounded


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(host="127.0.0.1", port=0) as sandbox:
        yield sandbox


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


# -------------------------------------------------------------------------------------- helpers


def tu_login(
    http: requests.Session,
    sb: Sandbox,
    username: str = DEMO_TEAMUP_USERNAME,
    password: str = DEMO_TEAMUP_PASSWORD,
    **extra: Any,
) -> requests.Response:
    body = {
        "username": username,
        "password": password,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
    }
    body.update(extra)
    return http.post(f"{sb.teamup_url}/auth/password_login", json=body, timeout=TIMEOUT)


def tu_token(
    http: requests.Session, sb: Sandbox, username: str = DEMO_TEAMUP_USERNAME
) -> dict[str, Any]:
    passwords = {DEMO_TEAMUP_USERNAME: DEMO_TEAMUP_PASSWORD}
    password = passwords.get(username, username.split("@")[0] + "-password")
    response = tu_login(http, sb, username, password)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def tu_get(
    http: requests.Session, sb: Sandbox, path: str, token: str, **headers: str
) -> requests.Response:
    return http.get(
        sb.teamup_url + path,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=TIMEOUT,
    )


def tu_refresh(
    http: requests.Session, sb: Sandbox, refresh_token: str, **extra: Any
) -> requests.Response:
    return http.post(
        f"{sb.teamup_url}/auth/refresh_access_token",
        json={"refresh_token": refresh_token, **extra},
        timeout=TIMEOUT,
    )


def assert_teamup_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["type"] == "invalid_request_error"
    assert isinstance(body["field_errors"], dict)
    return body


def u2m_headers(token: str | None = None, secret: str = DEMO_UP2MONEY_SECRET) -> dict[str, str]:
    headers = {"x-secret": secret}
    if token is not None:
        headers["Authorization-key"] = token
    return headers


def u2m_login(
    http: requests.Session,
    sb: Sandbox,
    email: str = DEMO_UP2MONEY_EMAIL,
    password: str = DEMO_UP2MONEY_PASSWORD,
) -> requests.Response:
    return http.post(
        f"{sb.up2money_url}/auth/login",
        json={"email": email, "password": {"value": password}},
        headers=u2m_headers(),
        timeout=TIMEOUT,
    )


def u2m_token(http: requests.Session, sb: Sandbox, email: str = DEMO_UP2MONEY_EMAIL) -> str:
    password = {DEMO_UP2MONEY_EMAIL: DEMO_UP2MONEY_PASSWORD}.get(
        email, "tok_" + email.split("@")[0] + "-password"
    )
    response = u2m_login(http, sb, email, password)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def u2m_call(
    http: requests.Session, sb: Sandbox, method: str, path: str, token: str | None, **kwargs: Any
) -> requests.Response:
    return http.request(
        method, sb.up2money_url + path, headers=u2m_headers(token), timeout=TIMEOUT, **kwargs
    )


# ----------------------------------------------------------------------------------- life cycle


def test_urls_and_ports(sb: Sandbox) -> None:
    assert sb.url == f"http://127.0.0.1:{sb.port}"
    assert sb.port > 0
    assert sb.teamup_url == sb.url + "/teamup/api/v2"
    assert sb.up2money_url == sb.url + "/up2money"
    assert sb.running


def test_url_before_start_and_restart() -> None:
    sandbox = Sandbox()
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    sandbox.start()
    try:
        with pytest.raises(RuntimeError):
            sandbox.start()
    finally:
        sandbox.stop()
    sandbox.stop()  # idempotent
    assert not sandbox.running


def test_stop_closes_kept_alive_connections(http: requests.Session) -> None:
    sandbox = Sandbox().start()
    url = sandbox.url + "/_sandbox/stats"
    assert http.get(url, timeout=TIMEOUT).status_code == 200
    sandbox.stop()
    # The pooled connection was shut down and the port no longer listens.
    with pytest.raises(requests.ConnectionError):
        http.get(url, timeout=TIMEOUT)


def test_keep_alive_serves_several_requests_on_one_connection(sb: Sandbox) -> None:
    conn = HTTPConnection("127.0.0.1", sb.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/_sandbox/stats")
        first = conn.getresponse()
        assert first.status == 200
        assert json.loads(first.read())["teamup"]["logins"]["total"] == 0
        sock = conn.sock
        body = json.dumps(
            {"username": DEMO_TEAMUP_USERNAME, "password": "wrong", "direct_auth_key": "x"}
        )
        conn.request(
            "POST", "/teamup/api/v2/auth/password_login", body, {"Content-Type": "application/json"}
        )
        second = conn.getresponse()
        assert second.status == 403
        assert json.loads(second.read())["code"] == "permission_denied"
        conn.request("GET", "/up2money/managed_accounts")
        third = conn.getresponse()
        assert third.status == 401
        third.read()
        assert conn.sock is sock  # the same TCP connection answered all three
    finally:
        conn.close()


def test_unknown_paths_and_methods(sb: Sandbox, http: requests.Session) -> None:
    outside = http.get(sb.url + "/nowhere", timeout=TIMEOUT)
    assert outside.status_code == 404
    assert "teamup" in outside.json()["message"]
    assert_teamup_error(http.get(sb.teamup_url + "/nope", timeout=TIMEOUT), 404, "not_found")
    wrong = http.get(sb.teamup_url + "/auth/password_login", timeout=TIMEOUT)
    assert_teamup_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["Allow"] == "POST"
    missing = http.get(sb.up2money_url + "/nope", headers=u2m_headers(), timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found."}
    # A GET to the login endpoint is not a login attempt.
    assert sb.login_attempts("teamup") == 0


def test_head_answers_as_get_without_a_body(sb: Sandbox, http: requests.Session) -> None:
    token = tu_token(http, sb)["access_token"]
    cases: list[tuple[str, dict[str, str]]] = [
        (sb.teamup_url + "/customers", {}),  # 401: no token
        (sb.teamup_url + "/customers", {"Authorization": f"Bearer {token}"}),  # 200
        (sb.teamup_url + "/auth/password_login", {}),  # 405: POST only
        (sb.up2money_url + "/managed_accounts", u2m_headers()),  # 401: no token
        (sb.url + "/_sandbox/stats", {}),
        (sb.url + "/nowhere", {}),
    ]
    for url, headers in cases:
        got = http.get(url, headers=headers, timeout=TIMEOUT)
        head = http.head(url, headers=headers, timeout=TIMEOUT)
        assert head.status_code == got.status_code, url
        assert head.content == b""
        assert head.headers["Content-Length"] == str(len(got.content))
        assert head.headers.get("Allow") == got.headers.get("Allow")
    assert [r.method for r in sb.received if r.method == "HEAD"] == ["HEAD"] * 4


def test_bad_framing_answers_400_and_closes(sb: Sandbox) -> None:
    conn = HTTPConnection("127.0.0.1", sb.port, timeout=TIMEOUT)
    try:
        conn.putrequest("POST", "/teamup/api/v2/echo")
        conn.putheader("Content-Length", "banana")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 400
        assert response.getheader("Connection") == "close"
        assert "Content-Length" in json.loads(response.read())["message"]
    finally:
        conn.close()


# --------------------------------------------------------------------------------- TeamUp login


def test_teamup_login_success(sb: Sandbox, http: requests.Session) -> None:
    response = tu_login(http, sb)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token"}
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    assert body["access_token"] != body["refresh_token"]
    assert sb.logins("teamup") == 1
    assert sb.logins("teamup", user=DEMO_TEAMUP_USERNAME) == 1
    assert sb.logins("teamup", user="bob@example.com") == 0
    assert sb.login_attempts("teamup") == 1
    assert sb.logins("up2money") == 0


@pytest.mark.parametrize("encoding", ["form", "multipart", "json-query"])
def test_teamup_login_accepts_form_and_multipart(
    sb: Sandbox, http: requests.Session, encoding: str
) -> None:
    fields = {
        "username": DEMO_TEAMUP_USERNAME,
        "password": DEMO_TEAMUP_PASSWORD,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
    }
    url = f"{sb.teamup_url}/auth/password_login"
    if encoding == "form":
        response = http.post(url, data=fields, timeout=TIMEOUT)
    elif encoding == "multipart":
        files = {name: (None, value) for name, value in fields.items()}
        response = http.post(url, files=files, timeout=TIMEOUT)
    else:
        response = http.post(url + "?format=json", json=fields, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()
    assert sb.logins("teamup", DEMO_TEAMUP_USERNAME) == 1


def test_teamup_login_validation_errors(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.teamup_url}/auth/password_login"
    missing = http.post(url, json={}, timeout=TIMEOUT)
    body = assert_teamup_error(missing, 400, "invalid")
    assert body["field_errors"] == {
        "username": ["This field is required."],
        "password": ["This field is required."],
        "direct_auth_key": ["This field is required."],
    }
    blank = tu_login(http, sb, username="", password=DEMO_TEAMUP_PASSWORD, verification_key="")
    fields = assert_teamup_error(blank, 400, "invalid")["field_errors"]
    assert fields == {
        "username": ["This field may not be blank."],
        "verification_key": ["This field may not be blank."],
    }
    no_key = http.post(
        url, json={"username": "a", "password": "b", "direct_auth_key": None}, timeout=TIMEOUT
    )
    assert assert_teamup_error(no_key, 400, "invalid")["field_errors"] == {
        "direct_auth_key": ["This field may not be null."]
    }
    # Failed calls are attempts, never logins.
    assert sb.login_attempts("teamup") == 3
    assert sb.logins("teamup") == 0


def test_teamup_login_bad_bodies(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.teamup_url}/auth/password_login"
    broken = http.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert_teamup_error(broken, 400, "parse_error")
    xml = http.post(url, data=b"<x/>", headers={"Content-Type": "application/xml"}, timeout=TIMEOUT)
    assert_teamup_error(xml, 415, "unsupported_media_type")
    as_xml = http.post(url + "?format=xml", json={}, timeout=TIMEOUT)
    assert_teamup_error(as_xml, 406, "not_acceptable")
    assert sb.login_attempts("teamup") == 3


def test_teamup_wrong_direct_auth_key_is_403(sb: Sandbox, http: requests.Session) -> None:
    response = tu_login(http, sb, direct_auth_key="not-the-key")
    body = assert_teamup_error(response, 403, "permission_denied")
    assert "sandbox-direct-auth-key" not in response.text
    assert body["field_errors"] == {}


@pytest.mark.parametrize(
    ("username", "password"),
    [(DEMO_TEAMUP_USERNAME, "wrong"), ("nobody@example.com", "whatever")],
)
def test_teamup_bad_credentials_are_401(
    sb: Sandbox, http: requests.Session, username: str, password: str
) -> None:
    assert_teamup_error(tu_login(http, sb, username, password), 401, "authentication_failed")
    assert sb.login_attempts("teamup", username) == 1
    assert sb.logins("teamup") == 0


def test_teamup_usernames_match_case_insensitively(sb: Sandbox, http: requests.Session) -> None:
    assert tu_login(http, sb, username="  Alice@Example.COM").status_code == 200
    assert sb.logins("teamup", "alice@example.com") == 1
    assert sb.logins("teamup", "ALICE@example.com") == 1


def test_teamup_expires_in_null(sb: Sandbox, http: requests.Session) -> None:
    sb.teamup.config.expires_in = None
    body = tu_token(http, sb)
    assert body["expires_in"] is None
    assert tu_get(http, sb, "/customers", body["access_token"]).status_code == 200


# ----------------------------------------------------------------------------------- TeamUp API


def test_teamup_api_accepts_bearer_and_token_schemes(sb: Sandbox, http: requests.Session) -> None:
    token = tu_token(http, sb)["access_token"]
    for scheme in ("Bearer", "Token", "bearer"):
        response = http.get(
            sb.teamup_url + "/customers",
            headers={"Authorization": f"{scheme} {token}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, scheme
        body = response.json()
        assert body["count"] == len(body["results"]) == 2
    assert sb.api_calls("teamup") == 3
    assert sb.api_calls("teamup", DEMO_TEAMUP_USERNAME) == 3


@pytest.mark.parametrize(
    ("header", "message_part"),
    [
        (None, "not provided"),
        ("Bearer", "Invalid token header"),
        ("Basic abc", "Invalid token header"),
        ("Bearer not-a-token", "Invalid token"),
    ],
)
def test_teamup_api_rejects_bad_auth(
    sb: Sandbox, http: requests.Session, header: str | None, message_part: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = http.get(sb.teamup_url + "/customers", headers=headers, timeout=TIMEOUT)
    body = assert_teamup_error(response, 401, "authentication_failed")
    assert message_part in body["message"]
    assert sb.api_calls("teamup") == 0


def test_teamup_multi_provider_user_needs_provider_header(
    sb: Sandbox, http: requests.Session
) -> None:
    token = tu_token(http, sb, "multi@example.com")["access_token"]
    body = assert_teamup_error(tu_get(http, sb, "/customers", token), 400, "provider_required")
    assert "TeamUp-Provider-ID" in body["message"]
    assert body["field_errors"]["non_field_errors"]
    ok = tu_get(http, sb, "/customers", token, **{"TeamUp-Provider-ID": "2"})
    assert ok.status_code == 200
    assert {c["provider"] for c in ok.json()["results"]} == {2}
    assert_teamup_error(
        tu_get(http, sb, "/customers", token, **{"TeamUp-Provider-ID": "3"}),
        400,
        "invalid_provider",
    )
    assert sb.api_calls("teamup", "multi@example.com") == 1
    # A single-provider user needs no header.
    alice = tu_token(http, sb)["access_token"]
    assert tu_get(http, sb, "/customers", alice).status_code == 200


def test_teamup_echo_reports_exact_request(sb: Sandbox, http: requests.Session) -> None:
    token = tu_token(http, sb)["access_token"]
    payload = bytes(range(256)) * 3
    response = http.put(
        sb.teamup_url + "/echo?a=1&a=2&b=",
        data=payload,
        headers={
            "Authorization": f"Token {token}",
            "X-Custom": "yes",
            "Content-Type": "application/octet-stream",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == "PUT"
    assert echo["path"] == "/teamup/api/v2/echo"
    assert echo["query"] == {"a": ["1", "2"], "b": [""]}
    assert base64.b64decode(echo["body_b64"]) == payload
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert echo["headers"]["X-Custom"] == "yes"
    assert echo["user"] == DEMO_TEAMUP_USERNAME
    assert echo["token_type"] is None


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_teamup_echo_any_method(sb: Sandbox, http: requests.Session, method: str) -> None:
    token = tu_token(http, sb)["access_token"]
    response = http.request(
        method,
        sb.teamup_url + "/echo",
        json={"k": method},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == method
    assert json.loads(base64.b64decode(echo["body_b64"])) == {"k": method}


def test_echo_receives_chunked_generator_body(sb: Sandbox, http: requests.Session) -> None:
    token = tu_token(http, sb)["access_token"]
    parts = [b"first chunk;", b"", b"x" * 70000, b"\r\n0\r\n"]  # a body that looks like framing

    def generate() -> Iterator[bytes]:
        yield from parts

    response = http.post(
        sb.teamup_url + "/echo",
        data=generate(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["headers"].get("Transfer-Encoding") == "chunked"
    assert base64.b64decode(echo["body_b64"]) == b"".join(parts)
    # The connection is still usable after a chunked body.
    assert tu_get(http, sb, "/customers", token).status_code == 200


def test_teamup_redirect(sb: Sandbox, http: requests.Session) -> None:
    response = http.get(
        sb.teamup_url + "/redirect",
        params={"to": "https://elsewhere.invalid/x"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "https://elsewhere.invalid/x"
    relative = http.get(
        sb.teamup_url + "/redirect",
        params={"to": "/teamup/api/v2/customers", "status": "307"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert relative.status_code == 307
    assert relative.headers["Location"] == "/teamup/api/v2/customers"
    bad = http.get(
        sb.teamup_url + "/redirect",
        params={"to": "/x", "status": "200"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert assert_teamup_error(bad, 400, "invalid")["field_errors"].keys() == {"status"}
    missing = http.get(sb.teamup_url + "/redirect", allow_redirects=False, timeout=TIMEOUT)
    assert assert_teamup_error(missing, 400, "invalid")["field_errors"].keys() == {"to"}


# --------------------------------------------------------------- TeamUp refresh, expiry, revoke


def test_teamup_refresh_rotates(sb: Sandbox, http: requests.Session) -> None:
    first = tu_token(http, sb)
    response = tu_refresh(
        http, sb, first["refresh_token"], new_access_token_type="provider", scope=["read"]
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    echo = tu_get(http, sb, "/echo", second["access_token"]).json()
    assert echo["token_type"] == "provider"
    # The used refresh token is spent.
    assert_teamup_error(tu_refresh(http, sb, first["refresh_token"]), 401, "authentication_failed")
    # Without a new type the token keeps the type it had.
    third = tu_refresh(http, sb, second["refresh_token"]).json()
    assert tu_get(http, sb, "/echo", third["access_token"]).json()["token_type"] == "provider"
    assert sb.refreshes("teamup") == 2
    assert sb.refreshes("teamup", DEMO_TEAMUP_USERNAME) == 2
    assert sb.logins("teamup") == 1
    assert sb.refreshes("up2money") == 0


def test_teamup_refresh_validation(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.teamup_url}/auth/refresh_access_token"
    missing = http.post(url, json={}, timeout=TIMEOUT)
    assert assert_teamup_error(missing, 400, "invalid")["field_errors"] == {
        "refresh_token": ["This field is required."]
    }
    bad_type = tu_refresh(
        http, sb, "anything", new_access_token_type="admin", scope="not-a-list-is-ok"
    )
    fields = assert_teamup_error(bad_type, 400, "invalid")["field_errors"]
    assert fields == {"new_access_token_type": ['"admin" is not a valid choice.']}
    bad_scope = tu_refresh(http, sb, "anything", scope=[1, 2])
    assert "scope" in assert_teamup_error(bad_scope, 400, "invalid")["field_errors"]
    unknown = tu_refresh(http, sb, "unknown-refresh-token")
    assert_teamup_error(unknown, 401, "authentication_failed")
    assert sb.refreshes("teamup") == 0


def test_teamup_token_expiry(sb: Sandbox, http: requests.Session) -> None:
    # THE test of the sandbox's own token expiry, by real time (it has no clock to drive):
    # it sleeps. 1 s is the shortest life expires_in (whole seconds) gives, and sleeping
    # longer than it is harmless. The client's side of expiry is driven without sleeping
    # (test_teamup.py ages tokens; test_core.py uses now=).
    sb.teamup.config.expires_in = 1
    tokens = tu_token(http, sb)
    assert tokens["expires_in"] == 1
    assert tu_get(http, sb, "/customers", tokens["access_token"]).status_code == 200
    time.sleep(1.05)
    body = assert_teamup_error(
        tu_get(http, sb, "/customers", tokens["access_token"]), 401, "authentication_failed"
    )
    assert "expired" in body["message"]
    # The refresh token outlives the access token.
    refreshed = tu_refresh(http, sb, tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert tu_get(http, sb, "/customers", refreshed.json()["access_token"]).status_code == 200


def test_teamup_expire_tokens(sb: Sandbox, http: requests.Session) -> None:
    alice = tu_token(http, sb)
    bob = tu_token(http, sb, "bob@example.com")
    assert sb.expire_tokens("teamup", user=DEMO_TEAMUP_USERNAME) == 1
    assert_teamup_error(
        tu_get(http, sb, "/customers", alice["access_token"]), 401, "authentication_failed"
    )
    assert tu_get(http, sb, "/customers", bob["access_token"]).status_code == 200
    assert tu_refresh(http, sb, alice["refresh_token"]).status_code == 200


def test_teamup_revoke_tokens(sb: Sandbox, http: requests.Session) -> None:
    alice = tu_token(http, sb)
    bob = tu_token(http, sb, "bob@example.com")
    assert sb.revoke_tokens("teamup", user=DEMO_TEAMUP_USERNAME) == 2  # access + refresh
    body = assert_teamup_error(
        tu_get(http, sb, "/customers", alice["access_token"]), 401, "authentication_failed"
    )
    assert "revoked" in body["message"]
    assert_teamup_error(tu_refresh(http, sb, alice["refresh_token"]), 401, "authentication_failed")
    assert tu_get(http, sb, "/customers", bob["access_token"]).status_code == 200
    sb.revoke_tokens()
    assert tu_get(http, sb, "/customers", bob["access_token"]).status_code == 401


# ---------------------------------------------------------------------------- TeamUp two-factor


def test_teamup_two_factor_flow(sb: Sandbox, http: requests.Session) -> None:
    username, password = DEMO_TEAMUP_TWO_FACTOR_USERNAME, DEMO_TEAMUP_TWO_FACTOR_PASSWORD
    pending = tu_login(http, sb, username, password)
    assert pending.status_code == 200
    body = pending.json()
    assert set(body) == {"object", "id", "created_at", "user", "two_factor_required_providers"}
    assert body["object"] == "pending_login"
    assert uuid.UUID(body["id"]).version == 4
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert body["user"] == 1003
    assert body["two_factor_required_providers"] == [7]
    assert sb.logins("teamup") == 0

    requirements = http.get(
        sb.teamup_url + "/auth/two_factor/requirements", params={"provider": 7}, timeout=TIMEOUT
    )
    assert requirements.status_code == 200
    assert requirements.json()["required_fields"] == ["phone_number"]

    start_url = sb.teamup_url + "/auth/two_factor/start_verification"
    start_body = {
        "phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE,
        "provider": 7,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "pending_login": body["id"],
    }
    started = http.post(start_url, json=start_body, timeout=TIMEOUT)
    assert started.status_code == 200
    assert started.json()["status"] == "sent"

    verify_url = sb.teamup_url + "/auth/two_factor/verify"
    wrong = http.post(
        verify_url,
        json={"phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE, "verification_code": "000000"},
        timeout=TIMEOUT,
    )
    assert "verification_code" in assert_teamup_error(wrong, 400, "invalid")["field_errors"]
    verified = http.post(
        verify_url,
        json={"phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE, "verification_code": DEMO_SMS_CODE},
        timeout=TIMEOUT,
    )
    assert verified.status_code == 200
    key = verified.json()["verification_key"]
    assert isinstance(key, str)
    assert 0 < len(key) <= 32

    # The key is bound to its user: another two-factor user gets a pending login instead,
    # and a user without two-factor ignores it (neither spends it).
    sb.teamup.config.users["carol@example.com"] = TeamUpUser("carol-pw", 1005, [7], True, "+1555")
    carol = tu_login(http, sb, "carol@example.com", "carol-pw", verification_key=key)
    assert carol.json()["object"] == "pending_login"
    bob = tu_login(http, sb, "bob@example.com", "bob-password", verification_key=key)
    assert "access_token" in bob.json()
    done = tu_login(http, sb, username, password, verification_key=key)
    assert done.status_code == 200
    tokens = done.json()
    assert set(tokens) == {"access_token", "expires_in", "refresh_token"}
    assert tu_get(http, sb, "/customers", tokens["access_token"]).status_code == 200
    # Single use: the same key starts a new pending login.
    again = tu_login(http, sb, username, password, verification_key=key)
    assert again.json()["object"] == "pending_login"
    assert sb.logins("teamup", username) == 1
    assert sb.login_attempts("teamup", username) == 3
    assert sb.logins("teamup") == 2  # the user and bob


def test_teamup_two_factor_errors(sb: Sandbox, http: requests.Session) -> None:
    pending_id = tu_login(
        http, sb, DEMO_TEAMUP_TWO_FACTOR_USERNAME, DEMO_TEAMUP_TWO_FACTOR_PASSWORD
    ).json()["id"]
    start_url = sb.teamup_url + "/auth/two_factor/start_verification"
    good = {
        "phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE,
        "provider": 7,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "pending_login": pending_id,
    }

    def start(**changes: Any) -> requests.Response:
        return http.post(start_url, json={**good, **changes}, timeout=TIMEOUT)

    def field_errors(response: requests.Response) -> set[str]:
        return set(assert_teamup_error(response, 400, "invalid")["field_errors"])

    everything = {"phone_number", "provider", "direct_auth_key", "pending_login"}
    assert field_errors(http.post(start_url, json={}, timeout=TIMEOUT)) == everything
    assert field_errors(start(pending_login=str(uuid.uuid4()))) == {"pending_login"}
    assert field_errors(start(provider=1)) == {"provider"}
    assert field_errors(start(provider="seven")) == {"provider"}
    assert field_errors(start(phone_number="+10000000000")) == {"phone_number"}
    assert_teamup_error(start(direct_auth_key="wrong"), 403, "permission_denied")
    bad_provider = http.get(
        sb.teamup_url + "/auth/two_factor/requirements", params={"provider": "x"}, timeout=TIMEOUT
    )
    assert field_errors(bad_provider) == {"provider"}
    never_started = http.post(
        sb.teamup_url + "/auth/two_factor/verify",
        json={"phone_number": DEMO_TEAMUP_TWO_FACTOR_PHONE, "verification_code": DEMO_SMS_CODE},
        timeout=TIMEOUT,
    )
    assert field_errors(never_started) == {"phone_number"}
    # A made-up verification key just yields another pending login.
    made_up = tu_login(
        http,
        sb,
        DEMO_TEAMUP_TWO_FACTOR_USERNAME,
        DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
        verification_key="k" * 32,
    )
    assert made_up.json()["object"] == "pending_login"
    assert sb.logins("teamup") == 0


# -------------------------------------------------------------------- TeamUp limits and scripts


def test_teamup_rate_limit_per_ip_for_logins(sb: Sandbox, http: requests.Session) -> None:
    sb.teamup.config.rate_limit_per_minute = 2
    assert tu_login(http, sb).status_code == 200
    assert tu_login(http, sb).status_code == 200
    limited = tu_login(http, sb)
    assert_teamup_error(limited, 429, "throttled")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert sb.logins("teamup") == 2
    assert sb.login_attempts("teamup") == 3


def test_teamup_rate_limit_per_user_for_api(sb: Sandbox, http: requests.Session) -> None:
    alice = tu_token(http, sb)["access_token"]
    bob = tu_token(http, sb, "bob@example.com")["access_token"]
    sb.teamup.config.rate_limit_per_minute = 3
    for _ in range(3):
        assert tu_get(http, sb, "/customers", alice).status_code == 200
    assert_teamup_error(tu_get(http, sb, "/customers", alice), 429, "throttled")
    # Bob, from the same IP, has his own window.
    assert tu_get(http, sb, "/customers", bob).status_code == 200
    assert sb.api_calls("teamup", DEMO_TEAMUP_USERNAME) == 3
    sb.reset()
    assert sb.api_calls("teamup") == 0


def test_teamup_login_delay(sb: Sandbox, http: requests.Session) -> None:
    sb.teamup.config.login_delay = 0.6
    with pytest.raises(requests.ReadTimeout):
        http.post(f"{sb.teamup_url}/auth/password_login", json={}, timeout=0.2)
    assert sb.login_attempts("teamup") == 1
    sb.teamup.config.login_delay = 0
    assert tu_login(http, sb).status_code == 200


def test_teamup_scripted_login_answers(sb: Sandbox, http: requests.Session) -> None:
    sb.script_login(
        "teamup",
        502,
        b"<html>Bad gateway</html>",
        {"Content-Type": "text/html", "X-Script": "1"},
        count=2,
    )
    sb.script_login("teamup", 200, b"not json at all")
    for _ in range(2):
        scripted = tu_login(http, sb)
        assert scripted.status_code == 502
        assert scripted.content == b"<html>Bad gateway</html>"
        assert scripted.headers["Content-Type"] == "text/html"
        assert scripted.headers["X-Script"] == "1"
    raw = tu_login(http, sb)
    assert raw.status_code == 200
    assert raw.content == b"not json at all"
    assert "Content-Type" not in raw.headers  # verbatim: nothing added
    assert tu_login(http, sb).json().keys() == {"access_token", "expires_in", "refresh_token"}
    assert sb.login_attempts("teamup") == 4
    assert sb.logins("teamup") == 1


def test_script_login_rejects_impossible_answers(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="count"):
        sb.script_login("teamup", 500, b"", count=0)
    with pytest.raises(ValueError, match="body"):
        sb.script_login("up2money", 204, b"x")
    with pytest.raises(ValueError, match="status"):
        sb.script_login("up2money", 101, b"")
    with pytest.raises(ValueError, match="vendor"):
        sb.script_login("acme", 500, b"")


# ------------------------------------------------------------------------------- up2money login


def test_up2money_login_success(sb: Sandbox, http: requests.Session) -> None:
    response = u2m_login(http, sb)
    assert response.status_code == 200
    body = response.json()
    assert body["credentials"]["type"] == "ROOT"
    assert body["credentials"]["id"]
    assert body["identity"] == {"id": body["identity"]["id"], "type": "CONSUMER"}
    assert body["tokenType"] == "ACCESS"
    assert len(body["token"]) >= 32
    corp = u2m_login(http, sb, DEMO_UP2MONEY_CORPORATE_EMAIL, DEMO_UP2MONEY_CORPORATE_PASSWORD)
    assert corp.json()["identity"]["type"] == "CORPORATE"
    assert sb.logins("up2money") == 2
    assert sb.logins("up2money", DEMO_UP2MONEY_EMAIL) == 1
    assert sb.login_attempts("up2money") == 2


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_up2money_requires_secret(sb: Sandbox, http: requests.Session, secret: str | None) -> None:
    headers = {} if secret is None else {"x-secret": secret}
    login = http.post(
        f"{sb.up2money_url}/auth/login",
        json={"email": DEMO_UP2MONEY_EMAIL, "password": {"value": DEMO_UP2MONEY_PASSWORD}},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert login.status_code == 401
    assert set(login.json()) == {"message"}
    assert DEMO_UP2MONEY_SECRET not in login.text
    assert sb.logins("up2money") == 0
    assert sb.login_attempts("up2money") == 1
    token = u2m_token(http, sb)
    api = http.get(
        f"{sb.up2money_url}/managed_accounts",
        headers={**headers, "Authorization-key": token},
        timeout=TIMEOUT,
    )
    assert api.status_code == 401


def test_up2money_login_validation(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.up2money_url}/auth/login"

    def invalid(body: Any) -> list[dict[str, Any]]:
        response = http.post(url, json=body, headers=u2m_headers(), timeout=TIMEOUT)
        assert response.status_code == 400, response.text
        data = response.json()
        assert isinstance(data["message"], str)
        fields: list[dict[str, Any]] = data["syntaxErrors"]["invalidFields"]
        assert all(f["error"] == "REQUIRED" and isinstance(f["params"], list) for f in fields)
        return fields

    assert [f["fieldName"] for f in invalid({})] == ["email", "password.value"]
    assert [f["fieldName"] for f in invalid({"email": "", "password": {"value": "x"}})] == ["email"]
    assert [f["fieldName"] for f in invalid({"email": "a@b.c", "password": {"value": " "}})] == [
        "password.value"
    ]
    assert [f["fieldName"] for f in invalid({"email": "a@b.c", "password": "flat"})] == [
        "password.value"
    ]
    broken = http.post(url, data=b"{", headers=u2m_headers(), timeout=TIMEOUT)
    assert broken.status_code == 400
    assert "message" in broken.json()
    assert sb.logins("up2money") == 0


def test_up2money_wrong_password_and_lockout(sb: Sandbox, http: requests.Session) -> None:
    for _ in range(5):
        wrong = u2m_login(http, sb, password="tok_wrong")
        assert wrong.status_code == 403
        assert set(wrong.json()) == {"message"}
    locked = u2m_login(http, sb)  # even the right password
    assert locked.status_code == 423
    message = locked.json()["message"]
    assert "locked" in message
    assert "30 minutes" in message
    assert sb.logins("up2money") == 0
    assert sb.login_attempts("up2money", DEMO_UP2MONEY_EMAIL) == 6
    # Other accounts are not affected.
    assert (
        u2m_login(
            http, sb, DEMO_UP2MONEY_CORPORATE_EMAIL, DEMO_UP2MONEY_CORPORATE_PASSWORD
        ).status_code
        == 200
    )


def test_up2money_lockout_expires_and_success_resets_count(
    sb: Sandbox, http: requests.Session
) -> None:
    config = sb.up2money.config
    config.lockout_threshold = 3
    # The counting, under locks of the default 30 minutes: nothing here depends on time.
    for _ in range(2):
        assert u2m_login(http, sb, password="bad").status_code == 403
    assert u2m_login(http, sb).status_code == 200  # resets the consecutive count
    for _ in range(2):
        assert u2m_login(http, sb, password="bad").status_code == 403
    assert u2m_login(http, sb).status_code == 200  # still not locked
    for _ in range(3):
        assert (
            u2m_login(http, sb, "nobody@example.com", "bad").status_code == 403
        )  # unknown emails lock too
    assert u2m_login(http, sb, "nobody@example.com", "bad").status_code == 423
    # The end of a lock: THE test of it, by real time (the sandbox has no clock to drive),
    # so it sleeps. A 1 s lock leaves a loaded machine a whole second to send the one
    # login that must still meet it; sleeping longer than the lock is harmless.
    config.lockout_seconds = 1.0
    for _ in range(3):
        assert u2m_login(http, sb, password="bad").status_code == 403
    assert u2m_login(http, sb).status_code == 423
    time.sleep(1.05)
    assert u2m_login(http, sb).status_code == 200
    sb.reset()
    assert sb.logins("up2money") == 0


# --------------------------------------------------------------------------------- up2money API


def test_up2money_api_and_counters(sb: Sandbox, http: requests.Session) -> None:
    token = u2m_token(http, sb)
    accounts = u2m_call(http, sb, "GET", "/managed_accounts", token)
    assert accounts.status_code == 200
    assert accounts.json()["accounts"][0]["currency"] == "EUR"
    assert u2m_call(http, sb, "GET", "/managed_accounts", token).status_code == 200
    assert sb.api_calls("up2money") == 2
    assert sb.api_calls("up2money", DEMO_UP2MONEY_EMAIL) == 2
    assert sb.api_calls("teamup") == 0
    assert sb.refreshes("up2money") == 0


def test_up2money_token_header_rules(sb: Sandbox, http: requests.Session) -> None:
    token = u2m_token(http, sb)
    missing = u2m_call(http, sb, "GET", "/managed_accounts", None)
    assert missing.status_code == 403
    assert missing.json()["errorCode"] == "ACCESS_TOKEN_REQUIRED"
    bearer = u2m_call(http, sb, "GET", "/managed_accounts", f"Bearer {token}")
    assert bearer.status_code == 401
    assert set(bearer.json()) == {"message"}
    unknown = u2m_call(http, sb, "GET", "/managed_accounts", "no-such-token")
    assert unknown.status_code == 401
    assert sb.api_calls("up2money") == 0


def test_up2money_idle_timeout_slides(sb: Sandbox, http: requests.Session) -> None:
    # THE test of the sandbox's own sliding window, by real time (it has no clock to
    # drive): it sleeps. A 1 s window with a use every 0.35 s: a stall of 0.65 s between
    # two uses still passes, while 3 pauses (1.05 s) outlast the window. The client's
    # side is driven without sleeping in test_up2money.py and test_core.py.
    window, pause = 1.0, 0.35
    sb.up2money.config.idle_timeout = window
    token = u2m_token(http, sb)
    logged_in = time.monotonic()
    for _ in range(3):  # never idle for the window
        time.sleep(pause)
        assert u2m_call(http, sb, "GET", "/managed_accounts", token).status_code == 200
    assert time.monotonic() - logged_in > window  # the token outlived one window
    time.sleep(window + 0.05)  # longer is harmless
    expired = u2m_call(http, sb, "GET", "/managed_accounts", token)
    assert expired.status_code == 410
    assert "expired" in expired.json()["message"]
    # An expired token stays expired, even with a longer timeout now.
    sb.up2money.config.idle_timeout = 300
    assert u2m_call(http, sb, "GET", "/managed_accounts", token).status_code == 410


def test_up2money_expired_style_400(sb: Sandbox, http: requests.Session) -> None:
    sb.up2money.config.expired_style = "400"
    token = u2m_token(http, sb)
    assert sb.expire_tokens("up2money") == 1
    response = u2m_call(http, sb, "GET", "/managed_accounts", token)
    assert response.status_code == 400
    assert response.json() == {
        "response": {"errorCode": "TOKEN_EXPIRED"},
        "message": "Login failed.",
    }


def test_up2money_expire_and_revoke(sb: Sandbox, http: requests.Session) -> None:
    alice = u2m_token(http, sb)
    corp = u2m_token(http, sb, DEMO_UP2MONEY_CORPORATE_EMAIL)
    assert sb.expire_tokens("up2money", user=DEMO_UP2MONEY_EMAIL) == 1
    assert u2m_call(http, sb, "GET", "/managed_accounts", alice).status_code == 410
    assert u2m_call(http, sb, "GET", "/managed_accounts", corp).status_code == 200
    assert sb.revoke_tokens("up2money", user=DEMO_UP2MONEY_CORPORATE_EMAIL) == 1
    assert u2m_call(http, sb, "GET", "/managed_accounts", corp).status_code == 401
    fresh = u2m_token(http, sb)
    assert u2m_call(http, sb, "GET", "/managed_accounts", fresh).status_code == 200


def test_up2money_step_up(sb: Sandbox, http: requests.Session) -> None:
    token = u2m_token(http, sb)
    blocked = u2m_call(http, sb, "POST", "/transfers", token, json={"amount": 100})
    assert blocked.status_code == 403
    assert blocked.json()["errorCode"] == "STEP_UP_REQUIRED"
    early = u2m_call(
        http,
        sb,
        "POST",
        "/auth/stepup/verify-otp",
        token,
        json={"verificationCode": DEMO_STEPUP_CODE},
    )
    assert early.status_code == 409
    assert early.json()["errorCode"]
    bad_channel = u2m_call(
        http, sb, "POST", "/auth/stepup/send-otp", token, json={"channel": "EMAIL"}
    )
    assert bad_channel.status_code == 400
    assert bad_channel.json()["syntaxErrors"]["invalidFields"][0]["fieldName"] == "channel"
    sent = u2m_call(http, sb, "POST", "/auth/stepup/send-otp", token, json={"channel": "SMS"})
    assert sent.status_code == 204
    assert sent.content == b""
    wrong = u2m_call(
        http, sb, "POST", "/auth/stepup/verify-otp", token, json={"verificationCode": "000000"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["errorCode"] == "VERIFICATION_CODE_INVALID"
    assert wrong.json()["message"]
    ok = u2m_call(
        http,
        sb,
        "POST",
        "/auth/stepup/verify-otp",
        token,
        json={"verificationCode": DEMO_STEPUP_CODE},
    )
    assert ok.status_code == 204
    done = u2m_call(http, sb, "POST", "/transfers", token, json={"amount": 100})
    assert done.status_code == 200
    assert done.json()["request"] == {"amount": 100}
    # Step-up belongs to the token: a new login starts without it.
    other = u2m_token(http, sb)
    assert (
        u2m_call(http, sb, "POST", "/transfers", other, json={}).json()["errorCode"]
        == "STEP_UP_REQUIRED"
    )
    # Step-up calls need the token like any API call; only /transfers counted as an API call.
    assert (
        u2m_call(
            http, sb, "POST", "/auth/stepup/send-otp", None, json={"channel": "SMS"}
        ).status_code
        == 403
    )
    assert sb.api_calls("up2money") == 1


def test_up2money_rate_limit(sb: Sandbox, http: requests.Session) -> None:
    first = u2m_token(http, sb)
    second = u2m_token(http, sb)
    sb.up2money.config.rate_limit_per_minute = 2
    for _ in range(2):
        assert u2m_call(http, sb, "GET", "/managed_accounts", first).status_code == 200
    before = time.time()
    limited = u2m_call(http, sb, "GET", "/managed_accounts", first)
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-limit"] == "2"
    reset_at = int(limited.headers["x-ratelimit-reset"])
    assert before < reset_at <= before + 61
    assert limited.json()["message"]
    # Another token has its own window.
    assert u2m_call(http, sb, "GET", "/managed_accounts", second).status_code == 200


def test_up2money_maintenance(sb: Sandbox, http: requests.Session) -> None:
    token = u2m_token(http, sb)
    sb.up2money.config.maintenance = True
    for response in (u2m_login(http, sb), u2m_call(http, sb, "GET", "/managed_accounts", token)):
        assert response.status_code == 503
        assert "maintenance" in response.json()["message"]
    sb.up2money.config.maintenance = False
    assert u2m_call(http, sb, "GET", "/managed_accounts", token).status_code == 200


def test_up2money_echo_and_redirect(sb: Sandbox, http: requests.Session) -> None:
    token = u2m_token(http, sb)
    echo = u2m_call(http, sb, "DELETE", "/echo?x=1", token, data=b"\x00\xffbytes").json()
    assert echo["method"] == "DELETE"
    assert echo["query"] == {"x": ["1"]}
    assert base64.b64decode(echo["body_b64"]) == b"\x00\xffbytes"
    assert echo["headers"]["Authorization-key"] == token
    assert echo["user"] == DEMO_UP2MONEY_EMAIL
    assert echo["token_type"] == "ACCESS"
    redirect = http.get(
        sb.up2money_url + "/redirect",
        params={"to": "http://localhost:1/echo", "status": "308"},
        headers=u2m_headers(),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "http://localhost:1/echo"
    bad = http.get(
        sb.up2money_url + "/redirect", headers=u2m_headers(), allow_redirects=False, timeout=TIMEOUT
    )
    assert bad.status_code == 400
    assert "to" in bad.json()["message"]


def test_up2money_scripted_and_delayed_login(sb: Sandbox, http: requests.Session) -> None:
    sb.script_login(
        "up2money", 423, b'{"message": "locked (scripted)"}', {"Content-Type": "application/json"}
    )
    scripted = u2m_login(http, sb)
    assert scripted.status_code == 423
    assert scripted.json() == {"message": "locked (scripted)"}
    assert sb.stats()["up2money"]["scripted_login_answers_pending"] == 0
    sb.up2money.config.login_delay = 0.6
    with pytest.raises(requests.ReadTimeout):
        http.post(f"{sb.up2money_url}/auth/login", json={}, headers=u2m_headers(), timeout=0.2)
    sb.up2money.config.login_delay = 0
    assert u2m_login(http, sb).status_code == 200
    assert sb.login_attempts("up2money") == 3
    assert sb.logins("up2money") == 1


# --------------------------------------------------------------------- shared state and control


def test_received_keeps_recent_vendor_requests(sb: Sandbox, http: requests.Session) -> None:
    tu_login(http, sb, password="wrong")
    http.get(sb.url + "/_sandbox/stats", timeout=TIMEOUT)  # not a vendor request
    u2m_call(http, sb, "POST", "/echo?q=1", None, data=b"raw")
    received = sb.received
    assert len(received) == 2
    method, path, headers, body = received[0]
    assert (method, path) == ("POST", "/teamup/api/v2/auth/password_login")
    assert json.loads(body)["password"] == "wrong"
    assert headers["Content-Type"] == "application/json"
    assert received[1].path == "/up2money/echo?q=1"
    assert received[1].body == b"raw"
    assert received[1].headers["x-secret"] == DEMO_UP2MONEY_SECRET
    sb.reset()
    assert sb.received == []


def test_received_is_bounded(sb: Sandbox) -> None:
    conn = HTTPConnection("127.0.0.1", sb.port, timeout=TIMEOUT)  # raw keep-alive: fast
    try:
        for index in range(1010):
            conn.request("GET", f"/teamup/api/v2/none?i={index}")
            assert conn.getresponse().read()
    finally:
        conn.close()
    received = sb.received
    assert len(received) == 1000
    assert received[0].path.endswith("?i=10")
    assert received[-1].path.endswith("?i=1009")


def test_reset_clears_everything_but_config(sb: Sandbox, http: requests.Session) -> None:
    sb.teamup.config.expires_in = 42
    token = tu_token(http, sb)["access_token"]
    u2m_token(http, sb)
    sb.script_login("teamup", 500, b"x")
    sb.up2money.config.lockout_threshold = 1
    u2m_login(http, sb, password="bad")
    assert u2m_login(http, sb).status_code == 423
    sb.reset()
    assert sb.logins("teamup") == sb.logins("up2money") == sb.login_attempts("up2money") == 0
    assert tu_get(http, sb, "/customers", token).status_code == 401  # tokens forgotten
    assert u2m_login(http, sb).status_code == 200  # lockout lifted
    assert tu_login(http, sb).json()["expires_in"] == 42  # no scripted answer left; config kept


def test_control_endpoints(sb: Sandbox, http: requests.Session) -> None:
    teamup_token = tu_token(http, sb)["access_token"]
    up2money_token = u2m_token(http, sb)
    stats = http.get(sb.url + "/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["teamup"]["logins"] == {"total": 1, "by_user": {DEMO_TEAMUP_USERNAME: 1}}
    assert stats["up2money"]["login_attempts"]["total"] == 1
    assert set(stats["teamup"]) >= {"logins", "login_attempts", "refreshes", "api_calls"}

    revoked = http.post(sb.url + "/_sandbox/revoke", json={"vendor": "up2money"}, timeout=TIMEOUT)
    assert revoked.json() == {"revoked": 1}
    assert u2m_call(http, sb, "GET", "/managed_accounts", up2money_token).status_code == 401
    assert tu_get(http, sb, "/customers", teamup_token).status_code == 200

    expired = http.post(
        sb.url + "/_sandbox/expire", json={"user": DEMO_TEAMUP_USERNAME}, timeout=TIMEOUT
    )
    assert expired.json() == {"expired": 1}
    assert tu_get(http, sb, "/customers", teamup_token).status_code == 401

    bad = http.post(sb.url + "/_sandbox/revoke", json={"vendor": "acme"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert "acme" in bad.json()["message"]
    assert http.get(sb.url + "/_sandbox/reset", timeout=TIMEOUT).status_code == 405

    assert http.post(sb.url + "/_sandbox/reset", timeout=TIMEOUT).json() == {"reset": True}
    assert (
        http.get(sb.url + "/_sandbox/stats", timeout=TIMEOUT).json()["teamup"]["logins"]["total"]
        == 0
    )
    all_revoked = http.post(sb.url + "/_sandbox/revoke", timeout=TIMEOUT)  # no body: everything
    assert all_revoked.json() == {"revoked": 0}


def test_concurrent_logins_are_all_counted(sb: Sandbox) -> None:
    errors: list[str] = []

    def worker() -> None:
        with requests.Session() as session:
            for _ in range(5):
                response = tu_login(session, sb)
                if response.status_code != 200:
                    errors.append(response.text)

    run_threads(8, worker, timeout=30)  # fails on a hung thread or one that raised
    assert errors == []
    assert sb.logins("teamup") == 40
    assert sb.login_attempts("teamup", DEMO_TEAMUP_USERNAME) == 40


def test_configs_given_to_constructor_are_used() -> None:
    teamup = TeamUpConfig(direct_auth_key="k2", expires_in=7)
    up2money = Up2MoneyConfig(secret="s2")
    with Sandbox(teamup=teamup, up2money=up2money) as sandbox, requests.Session() as http:
        assert sandbox.teamup.config is teamup
        ok = http.post(
            sandbox.teamup_url + "/auth/password_login",
            json={
                "username": DEMO_TEAMUP_USERNAME,
                "password": DEMO_TEAMUP_PASSWORD,
                "direct_auth_key": "k2",
            },
            timeout=TIMEOUT,
        )
        assert ok.json()["expires_in"] == 7
        assert tu_login(http, sandbox).status_code == 403  # the default key no longer works
        assert u2m_login(http, sandbox).status_code == 401
        login = http.post(
            sandbox.up2money_url + "/auth/login",
            json={"email": DEMO_UP2MONEY_EMAIL, "password": {"value": DEMO_UP2MONEY_PASSWORD}},
            headers={"x-secret": "s2"},
            timeout=TIMEOUT,
        )
        assert login.status_code == 200


def test_repr_hides_passwords_and_keys() -> None:
    text = repr(TeamUpConfig()) + repr(Up2MoneyConfig())
    for secret in (
        DEMO_TEAMUP_PASSWORD,
        DEMO_TEAMUP_DIRECT_AUTH_KEY,
        DEMO_UP2MONEY_SECRET,
        DEMO_UP2MONEY_PASSWORD,
    ):
        assert secret not in text


# --------------------------------------------------------------------------------- command line


def test_main_refuses_remote_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "loopback" in err
    assert "--allow-remote" in err


def test_main_rejects_bad_expires_in() -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["--teamup-expires-in", "soon"])
    assert excinfo.value.code == 2


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Control:"):
            break
    return "".join(lines)


def test_main_serves_until_sigterm() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    code = "import sys; from auth_plugins.sandbox import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--port",
            "0",
            "--teamup-expires-in",
            "null",
            "--up2money-idle-timeout",
            "9",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        banner = _read_banner(process)
        assert "export TEAMUP_BASE_URL=http://127.0.0.1:" in banner
        assert f"export TEAMUP_DIRECT_AUTH_KEY={DEMO_TEAMUP_DIRECT_AUTH_KEY}" in banner
        assert f"export UP2MONEY_SECRET={DEMO_UP2MONEY_SECRET}" in banner
        assert f"{DEMO_TEAMUP_USERNAME} / {DEMO_TEAMUP_PASSWORD}" in banner
        assert f"{DEMO_UP2MONEY_EMAIL} / {DEMO_UP2MONEY_PASSWORD}" in banner
        assert "idle timeout     9 s" in banner
        base = next(
            line.split("=", 1)[1]
            for line in banner.splitlines()
            if "export TEAMUP_BASE_URL=" in line
        )
        with requests.Session() as http:
            response = http.post(
                base + "/auth/password_login",
                json={
                    "username": DEMO_TEAMUP_USERNAME,
                    "password": DEMO_TEAMUP_PASSWORD,
                    "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
                },
                timeout=TIMEOUT,
            )
            assert response.json()["expires_in"] is None
            token = response.json()["access_token"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "Traceback" not in err
        assert token not in out + err  # tokens never reach the server's output
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# -------------------------------------------------------------------------------- pytest plugin


def test_pytest_plugin_import_is_cheap() -> None:
    code = (
        "import sys, auth_plugins.pytest_plugin as p; "
        "assert callable(p.auth_plugins_sandbox); "
        "names = ('auth_plugins.sandbox', 'http.server', 'requests'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_pytest_plugin_fixture(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Load the plugin explicitly and no entry points, so the test means the same whether or
    # not the package is installed.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        """
        import requests

        seen = []

        def test_one(auth_plugins_sandbox):
            sb = auth_plugins_sandbox
            assert sb.running and sb.teamup_url.startswith("http://127.0.0.1:")
            r = requests.post(sb.up2money_url + "/auth/login", timeout=5,
                              headers={"x-secret": "sandbox-secret"},
                              json={"email": "alice@example.com",
                                    "password": {"value": "tok_alice-password"}})
            assert r.status_code == 200
            assert sb.logins("up2money") == 1
            seen.append(sb)

        def test_two(auth_plugins_sandbox):
            # Function scope: a fresh sandbox, and the previous one is stopped.
            assert auth_plugins_sandbox.logins("up2money") == 0
            assert auth_plugins_sandbox is not seen[0]
            assert not seen[0].running
        """
    )
    result = pytester.runpytest_inprocess(
        "-p", "auth_plugins.pytest_plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
