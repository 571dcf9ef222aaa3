"""Each adapter's login sender hands the core the answer as it came, named by its path only.

The core reads a login answer as plain data (``core.messages.Answer``); vendors' hooks and
``repr`` see its ``url``: the path, never the host's query string (it may hold a key).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import requests

from auth_plugins.adapters.httpx_async import send_call
from auth_plugins.adapters.httpx_login import client_sender, transport_error, user_agent
from auth_plugins.adapters.requests_send import adapter_sender
from auth_plugins.core.messages import Call, json_call
from auth_plugins.sandbox import Sandbox


def login_call(sandbox: Sandbox) -> Call:
    url = f"{sandbox.url}/auth/password_login?format=json&key=query-secret"
    payload = {"email": "nobody@example.com", "password": "wrong"}
    return json_call("TeamUp", "login", url, payload, {}, timeout=5.0)


def test_the_requests_sender_names_the_answer_by_its_path(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        send = adapter_sender(session.get_adapter(sandbox.url), {"timeout": 5})
        answer = send(login_call(sandbox))
    assert answer.url == "/auth/password_login"
    assert answer.status >= 400  # an unknown user: refused, but answered


def test_the_httpx_sender_names_the_answer_by_its_path(sandbox: Sandbox) -> None:
    with httpx.Client() as client:
        answer = client_sender(client)(login_call(sandbox))
    assert answer.url == "/auth/password_login"
    assert answer.status >= 400
    assert "query-secret" not in repr(answer)


def test_the_async_httpx_sender_names_the_answer_by_its_path(sandbox: Sandbox) -> None:
    async def send() -> str:
        async with httpx.AsyncClient() as client:
            answer = await send_call(client, login_call(sandbox))
        return answer.url

    assert asyncio.run(send()) == "/auth/password_login"


def test_logins_carry_the_callers_user_agent_or_httpxs_own() -> None:
    own = f"python-httpx/{httpx.__version__}"
    assert user_agent(None) == own
    caller = httpx.Request("GET", "https://a.example/", headers={"User-Agent": "app/2"})
    assert user_agent(caller) == "app/2"
    bare = httpx.Request("GET", "https://a.example/")  # a client adds one; a request alone not
    assert "User-Agent" not in bare.headers
    assert user_agent(bare) == own  # httpx's, never None


@pytest.mark.parametrize(
    "text",
    [
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)",
        "CERTIFICATE_VERIFY_FAILED",  # OpenSSL's reason code alone
        "certificate verify failed: self-signed certificate",  # the message alone
    ],
)
def test_a_certificate_the_login_could_not_verify_is_named(sandbox: Sandbox, text: str) -> None:
    from auth_plugins.adapters.httpx_login import LoginRequest

    login = LoginRequest(login_call(sandbox), {}, "ua/1")
    error = transport_error(login, httpx.ConnectError(text))
    assert "certificate" in str(error).lower()
    assert "could not reach" not in str(error)
