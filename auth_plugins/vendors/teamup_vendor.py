"""TeamUp (goteamup.com) API v2 as data: the :class:`~auth_plugins.core.vendor.Vendor`
the engine reads, and what data cannot say (the ``pending_login`` answer of a
two-factor login, TeamUp's error body, the provider number's form).

Kept apart from :class:`~auth_plugins.vendors.teamup.TeamUpAuth` so that reading
it loads no auth machinery: HTTPie's start-up with a cached token needs the
headers' templates only (issue 15). Errors are imported when raised, for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from ..core.vendor import Option, Vendor, config_error

if TYPE_CHECKING:
    from ..core.messages import Answer


def _pending_login(data: Any, answer: Answer) -> None:
    """A two-factor login answers 200 with ``object: pending_login`` instead of a token."""
    if isinstance(data, dict) and data.get("object") == "pending_login":
        from ..core.errors import TwoFactorRequired
        from ..core.text import quote

        # Read defensively: a malformed answer must still end in this error, not a
        # TypeError, and a huge one must not make a huge message.
        listed = data.get("two_factor_required_providers")
        providers = [
            p
            for p in (listed if isinstance(listed, list) else [])
            if isinstance(p, int) and not isinstance(p, bool)
        ]
        pending = str(data.get("id", ""))
        named = ", ".join(map(str, providers[:10])) + (", ..." if len(providers) > 10 else "")
        # The pending-login id is a credential of its own: kept on the error, never in its text.
        raise TwoFactorRequired(
            f"TeamUp wants a two-factor login (providers {named or 'none named'})",
            hint="Finish it with auth.start_two_factor(phone_number, provider, pending_login_id) "
            "and auth.verify_two_factor(phone_number, code), or pass a verification key as "
            "verification_key= (or TEAMUP_VERIFICATION_KEY)",
            pending_login_id=quote(pending, 80),
            providers=providers,
        )


def _error_details(data: dict[str, Any]) -> tuple[Optional[str], str]:
    """TeamUp's ``{code, message, type, field_errors}`` body as ``(code, message)``."""
    code = data.get("code") if isinstance(data.get("code"), str) else None
    parts = [data["message"]] if isinstance(data.get("message"), str) else []
    field_errors = data.get("field_errors")
    if isinstance(field_errors, dict):
        for field, messages in field_errors.items():
            if isinstance(messages, list):
                messages = "; ".join(str(m) for m in messages)
            parts.append(f"{field}: {messages}")
    return code, " / ".join(parts)


def _check_provider(values: Mapping[str, Any]) -> None:
    """TeamUp-Provider-ID is a provider's number."""
    provider = values.get("provider_id")
    if provider is not None and not provider.isdigit():
        raise config_error(
            "TeamUp provider_id= (or TEAMUP_PROVIDER_ID) must be a provider's number"
        )


TEAMUP = Vendor(
    name="teamup",
    title="TeamUp",
    description="TeamUp (goteamup.com) API v2, password login with a Direct Authentication key",
    base_url="https://goteamup.com/api/v2",
    env_prefix="TEAMUP",
    login_path="/auth/password_login?format=json",
    login_body={
        "username": "{username}",
        "password": "{password}",
        "direct_auth_key": "{direct_auth_key}",
        "verification_key": "{verification_key}",
    },
    api_headers={
        "Authorization": "{scheme} {token}",
        "TeamUp-Provider-ID": "{provider_id}",
        "TeamUp-Request-Mode": "{request_mode}",
    },
    token_field="access_token",
    expires_in_field="expires_in",
    refresh_token_field="refresh_token",
    refresh_path="/auth/refresh_access_token?format=json",
    refresh_body={"refresh_token": "{refresh_token}", "new_access_token_type": "{request_mode}"},
    options=(
        Option(
            "direct_auth_key",
            env="TEAMUP_DIRECT_AUTH_KEY",
            required=True,
            secret=True,
            help="the Direct Authentication key TeamUp issued for your application",
        ),
        Option(
            "verification_key",
            env="TEAMUP_VERIFICATION_KEY",
            secret=True,
            help="finishes a two-factor login",
        ),
        Option(
            "provider_id",
            env="TEAMUP_PROVIDER_ID",
            help="TeamUp-Provider-ID: the business, when you reach several",
        ),
        Option(
            "request_mode",
            env="TEAMUP_REQUEST_MODE",
            choices=("customer", "provider"),
            help="TeamUp-Request-Mode, when you have both profiles",
        ),
        Option(
            "scheme",
            env="TEAMUP_AUTH_SCHEME",
            default="Bearer",
            choices=("Bearer", "Token"),
            help="the Authorization scheme",
        ),
    ),
    # TeamUp takes a verification key once: a login spends it.
    single_use_options=("verification_key",),
    login_answer_hook=_pending_login,
    error_hook=_error_details,
    options_hook=_check_provider,
)
