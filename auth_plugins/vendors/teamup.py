"""TeamUp (goteamup.com) API v2: password login with a Direct Authentication key.

Data for the engine, plus what data cannot say: the ``pending_login`` answer
of a two-factor login, TeamUp's error body, and the two-factor steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ..auth import PasswordAuth
from ..core.errors import ConfigError, TwoFactorRequired
from ..core.messages import Answer
from ..core.text import quote
from ..core.vendor import Option, Vendor

if TYPE_CHECKING:
    import httpx


def _pending_login(data: Any, answer: Answer) -> None:
    """A two-factor login answers 200 with ``object: pending_login`` instead of a token."""
    if isinstance(data, dict) and data.get("object") == "pending_login":
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
)


class TeamUpAuth(PasswordAuth):
    """requests auth for TeamUp: ``session.auth = TeamUpAuth(user, password, direct_auth_key=...)``.

    Every argument falls back to its environment variable: ``TEAMUP_USERNAME``,
    ``TEAMUP_PASSWORD``, ``TEAMUP_DIRECT_AUTH_KEY``, ``TEAMUP_BASE_URL``,
    ``TEAMUP_VERIFICATION_KEY``, ``TEAMUP_PROVIDER_ID``, ``TEAMUP_REQUEST_MODE``
    and ``TEAMUP_AUTH_SCHEME``. Other keywords are
    :class:`~auth_plugins.auth.PasswordAuth`'s (``token_store``, ``timeout``, ...).

    ``two_factor_handler(auth, error)`` is called when a login needs a second
    factor; it runs :meth:`start_two_factor` and :meth:`verify_two_factor` (for
    example by asking a person) and returns True to log in again, False to let
    the :class:`~auth_plugins.TwoFactorRequired` error stand.
    """

    def __init__(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        direct_auth_key: Optional[str] = None,
        base_url: Optional[str] = None,
        verification_key: Optional[str] = None,
        provider_id: Optional[str | int] = None,
        request_mode: Optional[str] = None,
        scheme: Optional[str] = None,
        two_factor_handler: Optional[Callable[[TeamUpAuth, TwoFactorRequired], bool]] = None,
        **kwargs: Any,
    ) -> None:
        self.two_factor_handler = two_factor_handler
        super().__init__(
            TEAMUP,
            username,
            password,
            direct_auth_key=direct_auth_key,
            base_url=base_url,
            verification_key=verification_key,
            provider_id=provider_id,
            request_mode=request_mode,
            scheme=scheme,
            **kwargs,
        )
        provider = self._renewal.settings.get("provider_id")
        if provider is not None and not provider.isdigit():
            raise ConfigError(
                "TeamUp provider_id= (or TEAMUP_PROVIDER_ID) must be a provider's number"
            )

    def start_two_factor(
        self,
        phone_number: str,
        provider: int,
        pending_login_id: str,
        *,
        client: Optional[httpx.Client] = None,
    ) -> None:
        """Two-factor step 1: TeamUp sends an SMS code to ``phone_number``.

        ``client``: an ``httpx.Client`` to send through (default: requests).
        """
        self._vendor_call(*self._start_call(phone_number, provider, pending_login_id), None, client)

    async def astart_two_factor(
        self, client: httpx.AsyncClient, phone_number: str, provider: int, pending_login_id: str
    ) -> None:
        """:meth:`start_two_factor` for async code, sent through ``client``."""
        await self._avendor_call(
            client, *self._start_call(phone_number, provider, pending_login_id)
        )

    def verify_two_factor(
        self, phone_number: str, code: str, *, client: Optional[httpx.Client] = None
    ) -> str:
        """Two-factor step 2: trade the SMS code for a verification key.

        The key is returned, and kept for this auth's next login, which then
        succeeds (TeamUp takes each key once). ``client``: an ``httpx.Client``
        to send through (default: requests).
        """
        data = self._vendor_call(*self._verify_call(phone_number, code), None, client)
        return self._keep_verification_key(data)

    async def averify_two_factor(
        self, client: httpx.AsyncClient, phone_number: str, code: str
    ) -> str:
        """:meth:`verify_two_factor` for async code, sent through ``client``."""
        data = await self._avendor_call(client, *self._verify_call(phone_number, code))
        return self._keep_verification_key(data)

    def _start_call(
        self, phone_number: str, provider: int, pending_login_id: str
    ) -> tuple[str, str, dict[str, Any]]:
        payload = {
            "phone_number": phone_number,
            "provider": provider,
            "direct_auth_key": self._renewal.settings.values()["direct_auth_key"],
            "pending_login": pending_login_id,
        }
        return "two-factor start", "/auth/two_factor/start_verification", payload

    def _verify_call(self, phone_number: str, code: str) -> tuple[str, str, dict[str, Any]]:
        return (
            "two-factor verification",
            "/auth/two_factor/verify",
            {"phone_number": phone_number, "verification_code": code},
        )

    def _keep_verification_key(self, data: Any) -> str:
        key = data.get("verification_key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key:
            raise TwoFactorRequired(
                "TeamUp two-factor verification answered without a verification_key",
                pending_login_id="",
                providers=[],
            )
        self._renewal.settings.set("verification_key", key)
        self._renewal.clear_failure()
        return key

    def _two_factor(self, error: TwoFactorRequired) -> bool:
        return self.two_factor_handler is not None and self.two_factor_handler(self, error)


# The plugin host marks this as the hook when it registers this module (see
# auth_plugins.plugins): no pluggy import here, for HTTPie's start-up.
def register_vendors(register: Any) -> None:
    """Register TeamUp."""
    register(TEAMUP, TeamUpAuth)
