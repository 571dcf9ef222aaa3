"""up2.money: e-mail and tokenized password, an API secret on every call.

Data for the engine, plus what data cannot say: the error codes that mean
"log in again" (400 ``TOKEN_EXPIRED``, 403 ``ACCESS_TOKEN_REQUIRED``), the
step-up answer (403 ``STEP_UP_REQUIRED``), the ``syntaxErrors`` body, and the
step-up calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..auth import PasswordAuth
from ..core.answers import dig, json_object
from ..core.errors import AuthPluginError, LoginError, StepUpRequired
from ..core.messages import Answer
from ..core.tokens import Token
from ..core.vendor import Option, Vendor

if TYPE_CHECKING:
    import httpx


def _error_code(answer: Answer) -> Optional[str]:
    """``errorCode`` of a 400/403 answer, top level or under ``response`` (the docs show both)."""
    if answer.status_code not in (400, 403):
        return None
    data = json_object(answer)
    return _code_in(data) if data is not None else None


def _code_in(data: dict[str, Any]) -> Optional[str]:
    code = dig(data, "errorCode") or dig(data, "response.errorCode")
    return code if isinstance(code, str) else None


def _token_rejected(answer: Answer) -> bool:
    code = _error_code(answer)
    return (answer.status_code, code) in {(400, "TOKEN_EXPIRED"), (403, "ACCESS_TOKEN_REQUIRED")}


def _check_step_up(answer: Answer) -> None:
    if answer.status_code == 403 and _error_code(answer) == "STEP_UP_REQUIRED":
        raise StepUpRequired(
            f"up2.money wants step-up authentication for {answer.url}: call "
            "auth.send_step_up_otp(), then auth.verify_step_up(code) with the code sent to "
            "you, then send the request again",
        )


def _error_details(data: dict[str, Any]) -> tuple[Optional[str], str]:
    """``message`` plus each ``syntaxErrors.invalidFields`` entry, and the error code."""
    parts = [data["message"]] if isinstance(data.get("message"), str) else []
    fields = dig(data, "syntaxErrors.invalidFields")
    if isinstance(fields, list):
        for field in fields:
            if isinstance(field, dict):
                params = field.get("params")
                detail = f" {params}" if params else ""
                parts.append(f"{field.get('fieldName')}: {field.get('error')}{detail}")
    return _code_in(data), " / ".join(parts)


UP2MONEY = Vendor(
    name="up2money",
    title="up2.money",
    description="up2.money: e-mail and tokenized password, x-secret API secret",
    base_url="https://api.up2.money",
    env_prefix="UP2MONEY",
    username_env="UP2MONEY_EMAIL",
    username_label="e-mail",
    login_path="/auth/login",
    login_body={"email": "{username}", "password": {"value": "{password}"}},
    login_headers={"x-secret": "{secret}"},
    api_headers={"x-secret": "{secret}", "Authorization-key": "{token}"},
    token_field="token",
    # "valid for 5 minutes from last activity": a sliding window, no refresh token.
    idle_timeout=300.0,
    status_messages={
        423: "account locked for 30 minutes after failed consecutive logins",
        503: "the service is offline for maintenance; try again later",
    },
    options=(
        Option(
            "secret",
            env="UP2MONEY_SECRET",
            required=True,
            secret=True,
            help="the API secret sent as x-secret",
        ),
    ),
    token_rejected_hook=_token_rejected,
    api_response_hook=_check_step_up,
    error_hook=_error_details,
)


class Up2MoneyAuth(PasswordAuth):
    """requests auth for up2.money: ``Up2MoneyAuth(email, tokenized_password, secret=...)``.

    The password is the tokenized value up2.money's UI component made; it is
    sent as it is. Every argument falls back to its environment variable:
    ``UP2MONEY_EMAIL``, ``UP2MONEY_PASSWORD``, ``UP2MONEY_SECRET``,
    ``UP2MONEY_BASE_URL``. ``idle_timeout=`` (default 300) is the token's
    sliding window. Other keywords are :class:`~auth_plugins.auth.PasswordAuth`'s.
    """

    def __init__(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        secret: Optional[str] = None,
        base_url: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(UP2MONEY, username, password, secret=secret, base_url=base_url, **kwargs)

    def send_step_up_otp(
        self, channel: str = "SMS", *, client: Optional[httpx.Client] = None
    ) -> None:
        """Step-up, part 1: up2.money sends a one-time code over ``channel``.

        ``client``: an ``httpx.Client`` to send through (default: requests).
        """
        token = self.get_token(client)
        self._step_up_call(token, client, *_SEND_OTP, {"channel": channel})

    def verify_step_up(self, code: str, *, client: Optional[httpx.Client] = None) -> None:
        """Step-up, part 2: the code unlocks sensitive calls for the current token."""
        token = self.get_token(client)
        self._step_up_call(token, client, *_VERIFY_OTP, {"verificationCode": code})

    async def asend_step_up_otp(self, client: httpx.AsyncClient, channel: str = "SMS") -> None:
        """:meth:`send_step_up_otp` for async code, sent through ``client``."""
        token = await self.aget_token(client)
        try:
            await self._avendor_call(
                client, _SEND_OTP[1], _SEND_OTP[0], {"channel": channel}, self._headers_for(token)
            )
        except LoginError as exc:
            raise AuthPluginError(exc.summary) from None
        token.touch()

    async def averify_step_up(self, client: httpx.AsyncClient, code: str) -> None:
        """:meth:`verify_step_up` for async code, sent through ``client``."""
        token = await self.aget_token(client)
        try:
            await self._avendor_call(
                client,
                _VERIFY_OTP[1],
                _VERIFY_OTP[0],
                {"verificationCode": code},
                self._headers_for(token),
            )
        except LoginError as exc:
            raise AuthPluginError(exc.summary) from None
        token.touch()

    def _step_up_call(
        self,
        token: Token,
        client: Optional[httpx.Client],
        path: str,
        what: str,
        body: dict[str, Any],
    ) -> None:
        try:
            self._vendor_call(what, path, body, self._headers_for(token), client)
        except LoginError as exc:
            # A step-up failure is not a failed login: same text, the plain error type.
            raise AuthPluginError(exc.summary) from None
        token.touch()


#: (path, what) of the two step-up calls.
_SEND_OTP = ("/auth/stepup/send-otp", "step-up code request")
_VERIFY_OTP = ("/auth/stepup/verify-otp", "step-up verification")


# The plugin host marks this as the hook when it registers this module (see
# auth_plugins.plugins): no pluggy import here, for HTTPie's start-up.
def register_vendors(register: Any) -> None:
    """Register up2.money."""
    register(UP2MONEY, Up2MoneyAuth)
