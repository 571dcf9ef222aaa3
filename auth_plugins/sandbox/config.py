"""Configuration of the sandbox's two simulated vendors, and its demo credentials.

The config objects are plain mutable dataclasses: the handlers read them on every request, so
a test may change a field while the server runs and the next request sees the new value.
All values here are fake and meant for local tests only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEMO_SMS_CODE",
    "DEMO_STEPUP_CODE",
    "DEMO_TEAMUP_DIRECT_AUTH_KEY",
    "DEMO_TEAMUP_MULTI_PASSWORD",
    "DEMO_TEAMUP_MULTI_USERNAME",
    "DEMO_TEAMUP_PASSWORD",
    "DEMO_TEAMUP_TWO_FACTOR_PASSWORD",
    "DEMO_TEAMUP_TWO_FACTOR_PHONE",
    "DEMO_TEAMUP_TWO_FACTOR_USERNAME",
    "DEMO_TEAMUP_USERNAME",
    "DEMO_UP2MONEY_CORPORATE_EMAIL",
    "DEMO_UP2MONEY_CORPORATE_PASSWORD",
    "DEMO_UP2MONEY_EMAIL",
    "DEMO_UP2MONEY_PASSWORD",
    "DEMO_UP2MONEY_SECRET",
    "TeamUpConfig",
    "TeamUpUser",
    "Up2MoneyConfig",
    "Up2MoneyUser",
]

#: TeamUp's per-application "Direct Authentication" key the sandbox expects.
DEMO_TEAMUP_DIRECT_AUTH_KEY = "sandbox-direct-auth-key"
#: A plain TeamUp user (one provider, no two-factor).
DEMO_TEAMUP_USERNAME = "alice@example.com"
DEMO_TEAMUP_PASSWORD = "alice-password"
#: A TeamUp user whose login needs the SMS two-factor flow.
DEMO_TEAMUP_TWO_FACTOR_USERNAME = "twofactor@example.com"
DEMO_TEAMUP_TWO_FACTOR_PASSWORD = "twofactor-password"
DEMO_TEAMUP_TWO_FACTOR_PHONE = "+15555550100"
#: A TeamUp user reaching two providers: API calls need ``TeamUp-Provider-ID``.
DEMO_TEAMUP_MULTI_USERNAME = "multi@example.com"
DEMO_TEAMUP_MULTI_PASSWORD = "multi-password"
#: The SMS code TeamUp's simulated two-factor flow accepts.
DEMO_SMS_CODE = "123456"

#: up2money's API secret (the ``x-secret`` header) the sandbox expects.
DEMO_UP2MONEY_SECRET = "sandbox-secret"
#: A consumer up2money user and its tokenized password.
DEMO_UP2MONEY_EMAIL = "alice@example.com"
DEMO_UP2MONEY_PASSWORD = "tok_alice-password"
#: A corporate up2money user.
DEMO_UP2MONEY_CORPORATE_EMAIL = "corp@example.com"
DEMO_UP2MONEY_CORPORATE_PASSWORD = "tok_corp-password"
#: The step-up one-time code (the vendor's own sandbox always takes 123456 too).
DEMO_STEPUP_CODE = "123456"


@dataclass
class TeamUpUser:
    """A TeamUp account known to the sandbox.

    Attributes:
        password: the account's password.
        user_id: TeamUp's numeric user id (reported in ``pending_login.user``).
        providers: ids of the providers (businesses) the user reaches. With more than one, API
            calls must name one in the ``TeamUp-Provider-ID`` header.
        two_factor: True when a password login must be finished with an SMS verification.
        phone: the phone number the SMS code goes to (needed when ``two_factor`` is True).
    """

    password: str = field(repr=False)
    user_id: int
    providers: list[int] = field(default_factory=lambda: [1])
    two_factor: bool = False
    phone: str | None = None


def _default_teamup_users() -> dict[str, TeamUpUser]:
    return {
        DEMO_TEAMUP_USERNAME: TeamUpUser(DEMO_TEAMUP_PASSWORD, 1001, [1]),
        "bob@example.com": TeamUpUser("bob-password", 1002, [1]),
        DEMO_TEAMUP_TWO_FACTOR_USERNAME: TeamUpUser(
            DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
            1003,
            [7],
            two_factor=True,
            phone=DEMO_TEAMUP_TWO_FACTOR_PHONE,
        ),
        DEMO_TEAMUP_MULTI_USERNAME: TeamUpUser(DEMO_TEAMUP_MULTI_PASSWORD, 1004, [1, 2]),
    }


@dataclass
class TeamUpConfig:
    """How the simulated TeamUp API behaves.

    Attributes:
        direct_auth_key: the ``direct_auth_key`` every password login must carry.
        users: username -> account. User names are matched case-insensitively.
        expires_in: lifetime of new access tokens in seconds; None answers
            ``"expires_in": null`` and the tokens never expire.
        sms_code: the code the simulated SMS "sends" for two-factor logins.
        rate_limit_per_minute: requests a minute per user (authenticated calls) or per client
            IP (unauthenticated calls) before 429.
        login_delay: seconds the password login endpoint waits before answering, for client
            timeout tests.
    """

    direct_auth_key: str = field(default=DEMO_TEAMUP_DIRECT_AUTH_KEY, repr=False)
    users: dict[str, TeamUpUser] = field(default_factory=_default_teamup_users)
    expires_in: int | None = 3600
    sms_code: str = DEMO_SMS_CODE
    rate_limit_per_minute: int = 250
    login_delay: float = 0.0


@dataclass
class Up2MoneyUser:
    """An up2money account known to the sandbox.

    Attributes:
        password: the tokenized password the login expects in ``password.value``.
        identity_type: ``"CONSUMER"`` or ``"CORPORATE"``.
        identity_id: the identity id reported on login.
        credentials_id: the root credentials id reported on login.
    """

    password: str = field(repr=False)
    identity_type: str = "CONSUMER"
    identity_id: str = ""
    credentials_id: str = ""


def _default_up2money_users() -> dict[str, Up2MoneyUser]:
    return {
        DEMO_UP2MONEY_EMAIL: Up2MoneyUser(
            DEMO_UP2MONEY_PASSWORD, "CONSUMER", "110984733476282371", "110984733476282372"
        ),
        "bob@example.com": Up2MoneyUser(
            "tok_bob-password", "CONSUMER", "110984733476282373", "110984733476282374"
        ),
        DEMO_UP2MONEY_CORPORATE_EMAIL: Up2MoneyUser(
            DEMO_UP2MONEY_CORPORATE_PASSWORD,
            "CORPORATE",
            "110984733476282375",
            "110984733476282376",
        ),
    }


@dataclass
class Up2MoneyConfig:
    """How the simulated up2money API behaves.

    Attributes:
        secret: the API secret every request must carry in ``x-secret``.
        users: email -> account. Emails are matched case-insensitively.
        idle_timeout: seconds a token may stay unused before it expires (a sliding window:
            every successful authenticated call restarts it). The vendor's value is 300.
        expired_style: how an expired token is reported: ``"410"`` (410 Gone) or ``"400"``
            (400 ``{"response": {"errorCode": "TOKEN_EXPIRED"}, "message": "Login failed."}``).
        lockout_threshold: consecutive failed logins for one email that lock the account.
        lockout_seconds: how long a locked account answers 423 to every login.
        stepup_code: the one-time code ``/auth/stepup/verify-otp`` accepts.
        rate_limit_per_minute: requests a minute per token (per client IP without one).
        maintenance: True answers 503 to every call.
        login_delay: seconds the login endpoint waits before answering.
    """

    secret: str = field(default=DEMO_UP2MONEY_SECRET, repr=False)
    users: dict[str, Up2MoneyUser] = field(default_factory=_default_up2money_users)
    idle_timeout: float = 300.0
    expired_style: Literal["410", "400"] = "410"
    lockout_threshold: int = 5
    lockout_seconds: float = 1800.0
    stepup_code: str = DEMO_STEPUP_CODE
    rate_limit_per_minute: int = 1000
    maintenance: bool = False
    login_delay: float = 0.0
