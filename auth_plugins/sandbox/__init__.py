"""A local server that behaves like the TeamUp and up2money login APIs.

Used by the demo, the project's tests and users' own test suites::

    from auth_plugins.sandbox import Sandbox

    with Sandbox() as sb:
        sb.teamup_url     # http://127.0.0.1:PORT/teamup/api/v2
        sb.up2money_url   # http://127.0.0.1:PORT/up2money

    with Sandbox(tls=True) as sb:        # HTTPS; needs the ``sandbox`` extra (trustme)
        requests.get(sb.teamup_url + "/customers", verify=sb.ca_file)

Run one from the command line with ``auth-plugins sandbox`` (:func:`main`).
"""

from __future__ import annotations

from .cli import main
from .config import (
    DEMO_SMS_CODE,
    DEMO_STEPUP_CODE,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_MULTI_PASSWORD,
    DEMO_TEAMUP_MULTI_USERNAME,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_CORPORATE_EMAIL,
    DEMO_UP2MONEY_CORPORATE_PASSWORD,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    TeamUpConfig,
    TeamUpUser,
    Up2MoneyConfig,
    Up2MoneyUser,
)
from .messages import ReceivedRequest
from .server import TEAMUP_PREFIX, UP2MONEY_PREFIX, Sandbox
from .tls import CLIENT_CERT_NAME, TLSUnavailable

__all__ = [
    "CLIENT_CERT_NAME",
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
    "TEAMUP_PREFIX",
    "UP2MONEY_PREFIX",
    "ReceivedRequest",
    "Sandbox",
    "TLSUnavailable",
    "TeamUpConfig",
    "TeamUpUser",
    "Up2MoneyConfig",
    "Up2MoneyUser",
    "main",
]
