"""TeamUp (goteamup.com) API v2: password login with a Direct Authentication key.

:class:`TeamUpAuth` adds TeamUp's two-factor steps to the engine; the vendor
itself, as data, is :data:`~auth_plugins.vendors.teamup_vendor.TEAMUP`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ..auth import PasswordAuth
from ..core.errors import TwoFactorRequired
from .teamup_vendor import TEAMUP

if TYPE_CHECKING:
    import httpx

__all__ = ["TEAMUP", "TeamUpAuth", "register_vendors"]


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
