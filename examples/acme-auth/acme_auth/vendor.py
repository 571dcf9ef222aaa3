"""The Acme vendor, declared as data, and the hook that registers it.

Acme is a made-up API (``acme_auth.sandbox`` serves it locally). Its login::

    POST {base}/session  {"login": ..., "password": ..., "tenant": ...}
    201 {"session": {"token": "...", "expires_in": 900}}

API calls carry ``X-Acme-Token: <token>`` and ``X-Acme-Tenant: <tenant>``. An
expired session answers 419, a bad token 401, and a session an administrator
ended answers 403 ``{"code": "session_revoked"}``: all three mean "log in again".

Everything but the last is data; the 403 needs a look at the body, so it is
the one small code hook. Installed, the vendor works everywhere::

    get_auth("acme", username="...", password="...", tenant="...")
    http --auth-type acme -a LOGIN:PASSWORD https://api.acme.example/v1/whoami

This module is the plugin: ``pyproject.toml`` names it in the ``auth_plugins``
entry-point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth_plugins import Option, Vendor, hookimpl
from auth_plugins.login import json_object

if TYPE_CHECKING:
    from auth_plugins import Answer
    from auth_plugins.hookspecs import Register

__all__ = ["ACME", "register_vendors"]


def _session_revoked(response: Answer) -> bool:
    """A 403 means "log in again" only when Acme says the session was revoked.

    Other 403s (a wrong tenant, a forbidden resource) are answers to pass on.
    """
    if response.status_code != 403:
        return False
    data = json_object(response)
    return data is not None and data.get("code") == "session_revoked"


ACME = Vendor(
    name="acme",
    title="Acme",
    description="Acme API (example plugin): login, password and tenant",
    base_url="https://api.acme.example/v1",
    # ACME_USERNAME, ACME_PASSWORD, ACME_BASE_URL, and ACME_TENANT below.
    env_prefix="ACME",
    username_label="login",
    login_path="/session",
    login_body={"login": "{username}", "password": "{password}", "tenant": "{tenant}"},
    token_field="session.token",
    expires_in_field="session.expires_in",
    # Used when an answer leaves expires_in out.
    token_lifetime=900.0,
    api_headers={"X-Acme-Token": "{token}", "X-Acme-Tenant": "{tenant}"},
    relogin_statuses=frozenset({401, 419}),
    options=(
        Option(
            "tenant",
            env="ACME_TENANT",
            required=True,
            help="your Acme tenant, sent as X-Acme-Tenant",
        ),
    ),
    token_rejected_hook=_session_revoked,
)


@hookimpl
def register_vendors(register: Register) -> None:
    """Register Acme with auth-plugins."""
    register(ACME)
