"""The simulated TeamUp API v2: password login, rotating refresh, SMS two-factor, API calls.

Follows ``shared/vendors.md``. Where the vendor's documentation is silent the sandbox picks
the stricter reading, so that a client that works here also works against the real service:
refresh tokens rotate (a used one is refused), verification keys are single use.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .bodies import BodyError, UnsupportedMediaType, parse_form_body
from .config import TeamUpConfig, TeamUpUser
from .messages import Request, Response, json_response
from .vendor import VendorState, echo_payload, mark_tokens, redirect_response

__all__ = ["TeamUpState", "teamup_error"]

LOGIN_ROUTE = "/auth/password_login"
TOKEN_TYPES = ("customer", "provider")


def teamup_error(
    status: int,
    code: str,
    message: str,
    field_errors: Mapping[str, list[str]] | None = None,
    *,
    error_type: str = "invalid_request_error",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build TeamUp's error body: ``{"code", "message", "type", "field_errors"}``."""
    payload = {
        "code": code,
        "message": message,
        "type": error_type,
        "field_errors": dict(field_errors or {}),
    }
    return json_response(status, payload, headers)


def _field_error(field: str, message: str) -> Response:
    return teamup_error(400, "invalid", "Invalid input.", {field: [message]})


def _check_required(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, list[str]]:
    # The messages are Django REST framework's, which the TeamUp API is built on.
    errors: dict[str, list[str]] = {}
    for name in names:
        if name not in data:
            errors[name] = ["This field is required."]
        elif data[name] is None:
            errors[name] = ["This field may not be null."]
        elif not isinstance(data[name], str):
            errors[name] = ["Not a valid string."]
        elif not data[name].strip():
            errors[name] = ["This field may not be blank."]
    return errors


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _secret_equal(given: str, expected: str) -> bool:
    # Constant-time comparison, as a real server would do for keys and passwords.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass
class _AccessToken:
    user: str
    expires_at: float | None
    token_type: str | None
    revoked: bool = False
    expired: bool = False


@dataclass
class _RefreshToken:
    user: str
    token_type: str | None
    used: bool = False
    revoked: bool = False


@dataclass
class _PendingLogin:
    user: str
    providers: list[int]


@dataclass
class _Verification:
    pending_id: str
    user: str


@dataclass
class _Session:
    """Who an authenticated API call is from."""

    user: str
    account: TeamUpUser
    token: _AccessToken


_Handler = Callable[["TeamUpState", Request, "_Session | None"], Response]


@dataclass(frozen=True)
class _Route:
    methods: frozenset[str] | None  # None: any method
    needs_auth: bool
    handler: _Handler


class TeamUpState(VendorState):
    """State and request handling of the simulated TeamUp API (below ``/teamup/api/v2``)."""

    name = "teamup"

    def __init__(self, config: TeamUpConfig | None = None) -> None:
        super().__init__()
        #: The live configuration; changes apply from the next request.
        self.config = config if config is not None else TeamUpConfig()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._pending: dict[str, _PendingLogin] = {}
        self._verifications: dict[str, _Verification] = {}  # phone number -> started flow
        self._verification_keys: dict[str, _Verification] = {}  # key -> finished flow

    # ----------------------------------------------------------------- control API

    def revoke_tokens(self, user: str | None = None) -> int:
        """Revoke access and refresh tokens (all, or one user's); return how many."""
        with self._lock:
            return mark_tokens([*self._access.values(), *self._refresh.values()], user, "revoked")

    def expire_tokens(self, user: str | None = None) -> int:
        """Expire access tokens (all, or one user's); refresh tokens keep working."""
        with self._lock:
            return mark_tokens(self._access.values(), user, "expired")

    def _clear_tokens(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._pending.clear()
            self._verifications.clear()
            self._verification_keys.clear()

    # ----------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        """Answer one request below ``/teamup/api/v2``."""
        is_login = request.route == LOGIN_ROUTE and request.method == "POST"
        if is_login:
            # Every call to the login endpoint is an attempt, whatever it is answered.
            self.counters.add("login_attempts", self._username_hint(request))
            delay = self.config.login_delay
            if delay > 0:
                time.sleep(delay)
            scripted = self.scripts.pop()
            if scripted is not None:
                return scripted

        route = _ROUTES.get(request.route)
        if route is None:
            return teamup_error(404, "not_found", "Not found.")
        if route.methods is not None and request.method not in route.methods:
            allowed = ", ".join(sorted(route.methods))
            return teamup_error(
                405,
                "method_not_allowed",
                f'Method "{request.method}" not allowed.',
                headers={"Allow": allowed},
            )

        session: _Session | None = None
        auth_error: Response | None = None
        if route.needs_auth:
            session, auth_error = self._authenticate(request)

        # Per user once authenticated, else per client IP (vendors.md).
        key = ("user", session.user) if session else ("ip", request.client_ip)
        allowed_now, reset_in = self.limiter.hit(
            key, self.config.rate_limit_per_minute, time.monotonic()
        )
        if not allowed_now:
            wait = max(1, math.ceil(reset_in))
            return teamup_error(
                429,
                "throttled",
                f"Request was throttled. Expected available in {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        if auth_error is not None:
            return auth_error

        fmt = request.query_value("format")
        if fmt is not None and fmt != "json":
            return teamup_error(
                406, "not_acceptable", "The sandbox answers JSON only: use format=json."
            )

        if session is not None:
            provider_error = self._check_provider(request, session.account)
            if provider_error is not None:
                return provider_error

        response = route.handler(self, request, session)
        if session is not None and 200 <= response.status < 300:
            self.counters.add("api_calls", session.user)
        return response

    def _username_hint(self, request: Request) -> str:
        # Best effort: a malformed body still counts as an attempt, just not for a user.
        try:
            data = parse_form_body(request.header("Content-Type"), request.body)
        except BodyError:
            return ""
        username = data.get("username")
        return username.strip().lower() if isinstance(username, str) else ""

    def _find_user(self, username: str) -> TeamUpUser | None:
        wanted = username.strip().lower()
        for name, account in self.config.users.items():
            if name.strip().lower() == wanted:
                return account
        return None

    def _parse(self, request: Request) -> dict[str, Any] | Response:
        try:
            return parse_form_body(request.header("Content-Type"), request.body)
        except UnsupportedMediaType as exc:
            return teamup_error(415, "unsupported_media_type", str(exc))
        except BodyError as exc:
            return teamup_error(400, "parse_error", str(exc))

    def _authenticate(self, request: Request) -> tuple[_Session | None, Response | None]:
        header = request.header("Authorization")

        def fail(message: str) -> tuple[None, Response]:
            return None, teamup_error(401, "authentication_failed", message)

        if not header or not header.strip():
            return fail("Authentication credentials were not provided.")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        # The docs name both schemes and public clients disagree, so both are accepted.
        if scheme.lower() not in ("bearer", "token") or not token:
            return fail("Invalid token header.")
        with self._lock:
            record = self._access.get(token)
            if record is None:
                return fail("Invalid token.")
            if record.revoked:
                return fail("Token has been revoked.")
            if record.expires_at is not None and time.monotonic() >= record.expires_at:
                record.expired = True
            if record.expired:
                return fail("Token has expired.")
        account = self._find_user(record.user)
        if account is None:
            return fail("User not found.")
        return _Session(record.user, account, record), None

    def _check_provider(self, request: Request, account: TeamUpUser) -> Response | None:
        raw = request.header("TeamUp-Provider-ID")
        if raw is None:
            if len(account.providers) > 1:
                known = ", ".join(str(p) for p in account.providers)
                return teamup_error(
                    400,
                    "provider_required",
                    "This user can access several providers: name one in the "
                    f"TeamUp-Provider-ID header (one of {known}).",
                    {"non_field_errors": ["TeamUp-Provider-ID header is required."]},
                )
            return None
        provider = _as_int(raw)
        if provider is None or provider not in account.providers:
            return teamup_error(
                400,
                "invalid_provider",
                "The TeamUp-Provider-ID header names no provider this user can access.",
                {"non_field_errors": [f"Invalid provider id {raw!r}."]},
            )
        return None

    def _issue_tokens(self, user: str, token_type: str | None) -> dict[str, Any]:
        """Create an access + refresh token pair; call with ``self._lock`` held."""
        expires_in = self.config.expires_in
        expires_at = None if expires_in is None else time.monotonic() + expires_in
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self._access[access] = _AccessToken(user, expires_at, token_type)
        self._refresh[refresh] = _RefreshToken(user, token_type)
        return {"access_token": access, "expires_in": expires_in, "refresh_token": refresh}

    # ----------------------------------------------------------------- endpoints

    def _password_login(self, request: Request, session: _Session | None) -> Response:
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        errors = _check_required(data, ("username", "password", "direct_auth_key"))
        verification_key = data.get("verification_key")
        if verification_key is not None:
            if not isinstance(verification_key, str):
                errors["verification_key"] = ["Not a valid string."]
            elif not verification_key.strip():
                errors["verification_key"] = ["This field may not be blank."]
        if errors:
            return teamup_error(400, "invalid", "Invalid input.", errors)
        if not _secret_equal(data["direct_auth_key"], self.config.direct_auth_key):
            return teamup_error(
                403, "permission_denied", "Invalid direct_auth_key for this application."
            )
        username = data["username"].strip().lower()
        account = self._find_user(username)
        if account is None or not _secret_equal(data["password"], account.password):
            return teamup_error(
                401, "authentication_failed", "Unable to log in with provided credentials."
            )
        with self._lock:
            if account.two_factor and not self._take_verification_key(verification_key, username):
                pending_id = str(uuid.uuid4())
                providers = list(account.providers)
                self._pending[pending_id] = _PendingLogin(username, providers)
                return json_response(
                    200,
                    {
                        "object": "pending_login",
                        "id": pending_id,
                        "created_at": datetime.now(timezone.utc).isoformat(),
                        "user": account.user_id,
                        "two_factor_required_providers": providers,
                    },
                )
            tokens = self._issue_tokens(username, None)
        self.counters.add("logins", username)
        return json_response(200, tokens)

    def _take_verification_key(self, key: str | None, username: str) -> bool:
        """Consume a verification key issued to ``username``; call with the lock held."""
        if key is None:
            return False
        found = self._verification_keys.get(key)
        if found is None or found.user != username:
            return False
        # Single use: the key and its pending login are spent.
        del self._verification_keys[key]
        self._pending.pop(found.pending_id, None)
        return True

    def _refresh_access_token(self, request: Request, session: _Session | None) -> Response:
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        errors = _check_required(data, ("refresh_token",))
        token_type = data.get("new_access_token_type")
        if token_type is not None and token_type not in TOKEN_TYPES:
            errors["new_access_token_type"] = [f'"{token_type}" is not a valid choice.']
        scope = data.get("scope")
        # A form body can only send one string; JSON must send a list of strings.
        scope_ok = (
            scope is None
            or isinstance(scope, str)
            or (isinstance(scope, list) and all(isinstance(s, str) for s in scope))
        )
        if not scope_ok:
            errors["scope"] = ["Expected a list of items."]
        if errors:
            return teamup_error(400, "invalid", "Invalid input.", errors)
        with self._lock:
            record = self._refresh.get(data["refresh_token"])
            if record is None or record.used or record.revoked:
                return teamup_error(401, "authentication_failed", "Invalid refresh token.")
            if self._find_user(record.user) is None:
                return teamup_error(401, "authentication_failed", "User not found.")
            # Rotation: the refresh token just used is spent.
            record.used = True
            new_type = token_type if token_type is not None else record.token_type
            tokens = self._issue_tokens(record.user, new_type)
        self.counters.add("refreshes", record.user)
        return json_response(200, tokens)

    def _two_factor_requirements(self, request: Request, session: _Session | None) -> Response:
        provider = _as_int(request.query_value("provider"))
        if provider is None:
            return _field_error("provider", "A valid integer is required.")
        return json_response(
            200,
            {
                "provider": provider,
                "two_factor_required": True,
                "method": "sms",
                "required_fields": ["phone_number"],
                "message": "A verification code will be sent by SMS to the phone number "
                "registered for the account.",
            },
        )

    def _start_verification(self, request: Request, session: _Session | None) -> Response:
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        errors = _check_required(data, ("phone_number", "direct_auth_key", "pending_login"))
        provider = _as_int(data.get("provider"))
        if "provider" not in data or data["provider"] is None:
            errors["provider"] = ["This field is required."]
        elif provider is None:
            errors["provider"] = ["A valid integer is required."]
        if errors:
            return teamup_error(400, "invalid", "Invalid input.", errors)
        if not _secret_equal(data["direct_auth_key"], self.config.direct_auth_key):
            return teamup_error(
                403, "permission_denied", "Invalid direct_auth_key for this application."
            )
        phone = data["phone_number"].strip()
        with self._lock:
            pending = self._pending.get(data["pending_login"].strip())
            if pending is None:
                return _field_error("pending_login", "Invalid or expired pending login.")
            if provider not in pending.providers:
                return _field_error("provider", "Two-factor is not required for this provider.")
            account = self._find_user(pending.user)
            if account is None or account.phone is None or account.phone != phone:
                return _field_error(
                    "phone_number", "This phone number is not registered for this account."
                )
            # A new start replaces an earlier one for the same phone, as a resent SMS would.
            self._verifications[phone] = _Verification(data["pending_login"].strip(), pending.user)
        return json_response(
            200,
            {
                "object": "verification",
                "status": "sent",
                "phone_number": phone,
                "pending_login": data["pending_login"].strip(),
            },
        )

    def _verify(self, request: Request, session: _Session | None) -> Response:
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        errors = _check_required(data, ("phone_number", "verification_code"))
        if errors:
            return teamup_error(400, "invalid", "Invalid input.", errors)
        phone = data["phone_number"].strip()
        with self._lock:
            started = self._verifications.get(phone)
            if started is None:
                return _field_error(
                    "phone_number", "No verification was started for this phone number."
                )
            if not _secret_equal(data["verification_code"].strip(), self.config.sms_code):
                return _field_error("verification_code", "Invalid verification code.")
            del self._verifications[phone]
            key = secrets.token_hex(16)  # 32 characters: the documented maximum
            self._verification_keys[key] = started
        return json_response(200, {"verification_key": key})

    def _customers(self, request: Request, session: _Session | None) -> Response:
        assert session is not None  # an authenticated route
        provider = _as_int(request.header("TeamUp-Provider-ID")) or session.account.providers[0]
        results = [
            {"id": 5001, "first_name": "Casey", "last_name": "Customer", "provider": provider},
            {"id": 5002, "first_name": "Robin", "last_name": "Regular", "provider": provider},
        ]
        return json_response(
            200, {"count": len(results), "next": None, "previous": None, "results": results}
        )

    def _echo(self, request: Request, session: _Session | None) -> Response:
        assert session is not None  # an authenticated route
        return json_response(
            200,
            echo_payload(request, user=session.user, token_type=session.token.token_type),
        )

    def _redirect(self, request: Request, session: _Session | None) -> Response:
        return redirect_response(request, _field_error)


_ROUTES: dict[str, _Route] = {
    LOGIN_ROUTE: _Route(frozenset({"POST"}), False, TeamUpState._password_login),
    "/auth/refresh_access_token": _Route(
        frozenset({"POST"}), False, TeamUpState._refresh_access_token
    ),
    "/auth/two_factor/requirements": _Route(
        frozenset({"GET"}), False, TeamUpState._two_factor_requirements
    ),
    "/auth/two_factor/start_verification": _Route(
        frozenset({"POST"}), False, TeamUpState._start_verification
    ),
    "/auth/two_factor/verify": _Route(frozenset({"POST"}), False, TeamUpState._verify),
    "/customers": _Route(frozenset({"GET"}), True, TeamUpState._customers),
    "/echo": _Route(None, True, TeamUpState._echo),
    "/redirect": _Route(frozenset({"GET"}), False, TeamUpState._redirect),
}
