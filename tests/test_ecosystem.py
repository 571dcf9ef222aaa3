"""The libraries people already use around requests, each the real library.

requests-mock and responses (mocked transports), requests-cache (cached answers
with no connection), urllib3's ``Retry`` (an adapter that retries on its own) and
requests-toolbelt's ``BaseUrlSession``.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_cache
import requests_mock
import responses
from requests.adapters import HTTPAdapter
from requests_toolbelt.sessions import BaseUrlSession
from urllib3.util.retry import Retry

from auth_plugins import InvalidCredentials, TeamUpAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)

BASE = "https://api.example.com/v2"
LOGIN = BASE + "/auth/password_login"
REFRESH = BASE + "/auth/refresh_access_token"


def teamup(base_url: str = BASE, **kwargs: Any) -> TeamUpAuth:
    settings: dict[str, Any] = {
        "username": DEMO_TEAMUP_USERNAME,
        "password": DEMO_TEAMUP_PASSWORD,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "base_url": base_url,
        **kwargs,
    }
    return TeamUpAuth(**settings)


def token_answer(token: str) -> dict[str, Any]:
    return {"access_token": token, "expires_in": 3600, "refresh_token": "refresh-" + token}


# -- mocked transports --------------------------------------------------------------------


def test_requests_mock_an_unmocked_refresh_fails_over_to_the_password() -> None:
    auth = teamup()
    with requests_mock.Mocker() as mock:
        mock.post(LOGIN, [{"json": token_answer("T1")}, {"json": token_answer("T2")}])
        mock.get(BASE + "/customers", [{"status_code": 401}, {"json": []}, {"status_code": 401}])
        mock.get(BASE + "/customers", json=[])
        assert requests.get(BASE + "/customers", auth=auth).status_code == 200
        # The API refuses T1 now; the refresh endpoint is not mocked (NoMockAddress):
        # the auth falls over to the password instead of letting the mock's error out.
        mock.get(BASE + "/customers", [{"status_code": 401}, {"json": []}])
        response = requests.get(BASE + "/customers", auth=auth)
        assert response.status_code == 200
        logins = [r for r in mock.request_history if r.path.endswith("/password_login")]
        assert len(logins) == 2
        assert response.request.headers["Authorization"] == "Bearer T2"


@responses.activate
def test_responses_mocked_login_and_relogin() -> None:
    responses.post(LOGIN, json=token_answer("T1"))
    responses.post(LOGIN, json=token_answer("T2"))
    responses.get(BASE + "/customers", status=401)
    responses.get(BASE + "/customers", json=[1])
    auth = teamup()
    response = requests.get(BASE + "/customers", auth=auth)
    assert response.status_code == 200
    assert response.json() == [1]
    assert response.request.headers["Authorization"] == "Bearer T1"
    # Every call went through the mock, the login included: nothing real was reached.
    assert [call.request.method for call in responses.calls] == ["GET", "POST", "GET"]


# -- a cache ---------------------------------------------------------------------------------


def test_requests_cache_answers_from_the_cache_and_renews_through_it(sandbox: Sandbox) -> None:
    session = requests_cache.CachedSession(backend="memory", allowable_codes=(200, 401))
    session.auth = teamup(sandbox.teamup_url)
    assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    # A cached answer has no connection (requests-cache's CachedResponse): no crash.
    cached = session.get(sandbox.teamup_url + "/customers")
    assert cached.status_code == 200
    assert cached.from_cache
    sandbox.revoke_tokens("teamup")
    renewed = session.get(sandbox.teamup_url + "/customers?page=2")
    assert renewed.status_code == 200
    assert [r.status_code for r in renewed.history] == [401]
    assert sandbox.logins("teamup") == 2
    session.close()  # type: ignore[no-untyped-call]


# -- an adapter that retries on its own ---------------------------------------------------------


def test_urllib3_retry_that_returns_the_last_answer_leaves_the_401_to_the_auth(
    sandbox: Sandbox,
) -> None:
    retry = Retry(total=2, status_forcelist=[401, 503], raise_on_status=False)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.auth = teamup(sandbox.teamup_url)
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
        sandbox.revoke_tokens("teamup")
        assert session.get(sandbox.teamup_url + "/customers").status_code == 200
    assert sandbox.logins("teamup") == 2


def test_urllib3_retry_never_repeats_a_refused_login(sandbox: Sandbox) -> None:
    # Status retries skip POST, so a wrong password costs one attempt, not three.
    retry = Retry(total=3, status_forcelist=[401, 403], raise_on_status=False)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.auth = teamup(sandbox.teamup_url, password="wrong-password")
        for _ in range(3):
            with pytest.raises(InvalidCredentials):
                session.get(sandbox.teamup_url + "/customers")
    assert sandbox.login_attempts("teamup") == 1


# -- a session with a base URL -------------------------------------------------------------------


def test_toolbelt_base_url_session(sandbox: Sandbox) -> None:
    with BaseUrlSession(base_url=sandbox.teamup_url + "/") as session:
        session.auth = teamup(sandbox.teamup_url)
        assert session.get("customers").status_code == 200
        sandbox.revoke_tokens("teamup")
        assert session.get("customers").status_code == 200
    assert sandbox.logins("teamup") == 2


# -- what a user debugging a 401 sees --------------------------------------------------------------


def test_history_keeps_the_request_as_it_was_refused(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        session.auth = auth = teamup(sandbox.teamup_url)
        session.get(sandbox.teamup_url + "/customers")
        assert auth.token is not None
        refused_token = auth.token.access_token
        sandbox.revoke_tokens("teamup")
        response = session.get(sandbox.teamup_url + "/customers")
    [refused] = response.history
    assert refused.status_code == 401
    assert refused.request.headers["Authorization"] == f"Bearer {refused_token}"
    assert response.request.headers["Authorization"] != f"Bearer {refused_token}"
