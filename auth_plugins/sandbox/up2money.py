"""The simulated up2money API: login with a tokenized password, idle-expiring tokens, step-up.

Follows ``shared/vendors.md``: every request needs ``x-secret``; API calls add the bare token
in ``Authorization-key``; a token lapses after ``idle_timeout`` seconds without use; repeated
failed logins lock the account (423).
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from .bodies import BodyError, parse_json_object
from .config import Up2MoneyConfig, Up2MoneyUser
from .messages import Request, Response, empty_response, json_response
from .vendor import VendorState, echo_payload, mark_tokens, redirect_response

__all__ = ["Up2MoneyState"]

LOGIN_ROUTE = "/auth/login"


def _message(status: int, message: str, **extra: Any) -> Response:
    return json_response(status, {**extra, "message": message})


def _invalid_fields(*fields: tuple[str, str, list[str]]) -> Response:
    """The platform's 400 for a request that fails validation."""
    return json_response(
        400,
        {
            "message": "Bad Request: the request failed validation.",
            "syntaxErrors": {
                "invalidFields": [
                    {"params": params, "fieldName": name, "error": error}
                    for name, error, params in fields
                ]
            },
        },
    )


def _has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _secret_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _duration(seconds: float) -> str:
    if seconds >= 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = max(1, math.ceil(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


@dataclass
class _Token:
    #: The e-mail the token was issued to, lower-cased.
    user: str
    last_used: float
    revoked: bool = False
    expired: bool = False
    otp_sent: bool = False
    stepped_up: bool = False


_Handler = Callable[["Up2MoneyState", Request, "_Token | None"], Response]


@dataclass(frozen=True)
class _Route:
    methods: frozenset[str] | None  # None: any method
    needs_auth: bool
    handler: _Handler


class Up2MoneyState(VendorState):
    """State and request handling of the simulated up2money API (below ``/up2money``)."""

    name = "up2money"

    def __init__(self, config: Up2MoneyConfig | None = None) -> None:
        super().__init__()
        #: The live configuration; changes apply from the next request.
        self.config = config if config is not None else Up2MoneyConfig()
        self._tokens: dict[str, _Token] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._lockout_lock = threading.Lock()

    # ----------------------------------------------------------------- control API

    def revoke_tokens(self, user: str | None = None) -> int:
        """Revoke tokens (all, or one user's): they answer 401 from now on."""
        with self._lock:
            return mark_tokens(self._tokens.values(), user, "revoked")

    def expire_tokens(self, user: str | None = None) -> int:
        """Expire tokens (all, or one user's): they answer 410 (or 400 TOKEN_EXPIRED)."""
        with self._lock:
            return mark_tokens(self._tokens.values(), user, "expired")

    def _clear_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()
        with self._lockout_lock:
            self._failures.clear()
            self._locked_until.clear()

    # ----------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        """Answer one request below ``/up2money``."""
        if request.route == LOGIN_ROUTE and request.method == "POST":
            # Every call to the login endpoint is an attempt, whatever it is answered.
            self.counters.add("login_attempts", self._email_hint(request))
            delay = self.config.login_delay
            if delay > 0:
                time.sleep(delay)
            scripted = self.scripts.pop()
            if scripted is not None:
                return scripted

        if self.config.maintenance:
            return _message(
                503, "We're temporarily offline for maintenance. Please try again later."
            )
        secret = request.header("x-secret")
        if secret is None or not _secret_equal(secret, self.config.secret):
            # Never name the expected value: the message only says what is wrong.
            return _message(401, "Missing or invalid API secret (x-secret header).")

        route = _ROUTES.get(request.route)
        if route is None:
            return _message(404, "Not found.")
        if route.methods is not None and request.method not in route.methods:
            return json_response(
                405,
                {"message": f"Method {request.method} not allowed."},
                {"Allow": ", ".join(sorted(route.methods))},
            )

        # Per token (the header as sent, valid or not), per client IP when there is none.
        token_header = request.header("Authorization-key")
        key = ("token", token_header) if token_header else ("ip", request.client_ip)
        limit = self.config.rate_limit_per_minute
        allowed, reset_in = self.limiter.hit(key, limit, time.monotonic())
        if not allowed:
            reset_at = math.ceil(time.time() + reset_in)
            return json_response(
                429,
                {"message": "Too many requests. Please try again later."},
                {"x-ratelimit-limit": str(limit), "x-ratelimit-reset": str(reset_at)},
            )

        token: _Token | None = None
        if route.needs_auth:
            token_or_error = self._authenticate(token_header)
            if isinstance(token_or_error, Response):
                return token_or_error
            token = token_or_error

        response = route.handler(self, request, token)
        is_api = not request.route.startswith("/auth/")
        if token is not None and is_api and 200 <= response.status < 300:
            self.counters.add("api_calls", token.user)
        return response

    def _email_hint(self, request: Request) -> str:
        # Best effort: a malformed body still counts as an attempt, just not for a user.
        try:
            email = parse_json_object(request.body).get("email")
        except BodyError:
            return ""
        return email.strip().lower() if isinstance(email, str) else ""

    def _find_user(self, email: str) -> Up2MoneyUser | None:
        wanted = email.strip().lower()
        for name, account in self.config.users.items():
            if name.strip().lower() == wanted:
                return account
        return None

    def _authenticate(self, token_header: str | None) -> _Token | Response:
        if token_header is None or not token_header.strip():
            return _message(
                403,
                "An access token is required in the Authorization-key header.",
                errorCode="ACCESS_TOKEN_REQUIRED",
            )
        now = time.monotonic()
        with self._lock:
            # The header is the bare token: "Bearer <token>" is looked up as is and not found.
            record = self._tokens.get(token_header)
            if record is None or record.revoked:
                return _message(401, "Your credentials or access token are invalid.")
            if now - record.last_used > self.config.idle_timeout:
                record.expired = True
            if record.expired:
                if self.config.expired_style == "400":
                    return json_response(
                        400,
                        {"response": {"errorCode": "TOKEN_EXPIRED"}, "message": "Login failed."},
                    )
                return _message(410, "The requested token is expired.")
            # Sliding window: each authenticated call restarts the idle timer.
            record.last_used = now
            return record

    def _parse(self, request: Request) -> dict[str, Any] | Response:
        try:
            return parse_json_object(request.body)
        except BodyError as exc:
            return _message(400, f"Malformed request body: {exc}")

    # ----------------------------------------------------------------- endpoints

    def _login(self, request: Request, token: _Token | None) -> Response:
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        missing: list[tuple[str, str, list[str]]] = []
        if not _has_text(data.get("email")):
            missing.append(("email", "REQUIRED", []))
        password = data.get("password")
        value = password.get("value") if isinstance(password, dict) else None
        if not _has_text(value):
            missing.append(("password.value", "REQUIRED", []))
        if missing:
            return _invalid_fields(*missing)
        assert isinstance(value, str)
        email = str(data["email"]).strip().lower()
        now = time.monotonic()
        with self._lockout_lock:
            until = self._locked_until.get(email)
            if until is not None and now < until:
                return _message(
                    423,
                    "Account is temporarily locked due to failed consecutive login attempts. "
                    f"Try again in {_duration(until - now)}.",
                )
            if until is not None:
                # The lock has run out: the account starts over with a clean count.
                del self._locked_until[email]
                self._failures.pop(email, None)
            account = self._find_user(email)
            if account is None or not _secret_equal(value, account.password):
                failures = self._failures.get(email, 0) + 1
                if failures >= self.config.lockout_threshold:
                    # This failure is still reported as such; the next login meets the lock.
                    self._locked_until[email] = now + self.config.lockout_seconds
                    failures = 0
                self._failures[email] = failures
                return _message(
                    403, "The authentication credentials are not found or are incorrect."
                )
            self._failures.pop(email, None)
        token_value = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token_value] = _Token(email, time.monotonic())
        self.counters.add("logins", email)
        return json_response(
            200,
            {
                "credentials": {
                    "id": account.credentials_id or _stable_id("credentials", email),
                    "type": "ROOT",
                },
                "identity": {
                    "id": account.identity_id or _stable_id("identity", email),
                    "type": account.identity_type,
                },
                "token": token_value,
                "tokenType": "ACCESS",
            },
        )

    def _send_otp(self, request: Request, token: _Token | None) -> Response:
        assert token is not None  # an authenticated route
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        channel = data.get("channel")
        if not _has_text(channel):
            return _invalid_fields(("channel", "REQUIRED", []))
        if channel != "SMS":
            return _invalid_fields(("channel", "IN", ["SMS"]))
        with self._lock:
            token.otp_sent = True
        return empty_response(204)

    def _verify_otp(self, request: Request, token: _Token | None) -> Response:
        assert token is not None  # an authenticated route
        data = self._parse(request)
        if isinstance(data, Response):
            return data
        code = data.get("verificationCode")
        if not _has_text(code):
            return _invalid_fields(("verificationCode", "REQUIRED", []))
        assert isinstance(code, str)
        with self._lock:
            if not token.otp_sent:
                return _message(
                    409,
                    "No one-time code was sent: call /auth/stepup/send-otp first.",
                    errorCode="STEP_UP_CHALLENGE_NOT_STARTED",
                )
            if not _secret_equal(code.strip(), self.config.stepup_code):
                return _message(
                    400,
                    "The verification code is not valid.",
                    errorCode="VERIFICATION_CODE_INVALID",
                )
            token.otp_sent = False
            token.stepped_up = True
        return empty_response(204)

    def _managed_accounts(self, request: Request, token: _Token | None) -> Response:
        assert token is not None  # an authenticated route
        account = {
            "id": _stable_id("account", token.user),
            "friendlyName": "Main account",
            "currency": "EUR",
            "balances": {"availableBalance": 125000, "actualBalance": 125000},
            "state": {"state": "ACTIVE"},
        }
        return json_response(200, {"accounts": [account], "count": 1})

    def _transfers(self, request: Request, token: _Token | None) -> Response:
        assert token is not None  # an authenticated route
        if not token.stepped_up:
            return _message(
                403,
                "This operation needs step-up: verify a one-time code first.",
                errorCode="STEP_UP_REQUIRED",
            )
        try:
            details: Any = parse_json_object(request.body) if request.body.strip() else {}
        except BodyError as exc:
            return _message(400, f"Malformed request body: {exc}")
        return json_response(
            200, {"id": str(uuid.uuid4()), "state": "COMPLETED", "request": details}
        )

    def _echo(self, request: Request, token: _Token | None) -> Response:
        assert token is not None  # an authenticated route
        return json_response(
            200,
            echo_payload(
                request, user=token.user, token_type="ACCESS", stepped_up=token.stepped_up
            ),
        )

    def _redirect(self, request: Request, token: _Token | None) -> Response:
        return redirect_response(
            request, lambda field, message: _message(400, f"Invalid parameter {field}: {message}")
        )


def _stable_id(kind: str, email: str) -> str:
    # Ids for users added without one: stable across runs so tests can compare them.
    return str(110000000000000000 + zlib.crc32(f"{kind}:{email}".encode()))


_ROUTES: dict[str, _Route] = {
    LOGIN_ROUTE: _Route(frozenset({"POST"}), False, Up2MoneyState._login),
    "/auth/stepup/send-otp": _Route(frozenset({"POST"}), True, Up2MoneyState._send_otp),
    "/auth/stepup/verify-otp": _Route(frozenset({"POST"}), True, Up2MoneyState._verify_otp),
    "/managed_accounts": _Route(frozenset({"GET"}), True, Up2MoneyState._managed_accounts),
    "/transfers": _Route(frozenset({"POST"}), True, Up2MoneyState._transfers),
    "/echo": _Route(None, True, Up2MoneyState._echo),
    "/redirect": _Route(frozenset({"GET"}), False, Up2MoneyState._redirect),
}
