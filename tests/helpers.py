"""Plain helpers the tests share (the fixtures are in conftest.py).

Imported as ``from helpers import ...``: pytest puts this folder on ``sys.path``
for the tests here (``tests/`` is not a package), as it does for ``fake_plugins``.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests

from auth_plugins import PasswordAuth
from auth_plugins.sandbox import Sandbox


class VendorAuth(Protocol):
    """The ``vendor_auth`` fixture: an auth for the sandbox's ``"teamup"`` or ``"up2money"``."""

    def __call__(self, vendor: str, **overrides: Any) -> PasswordAuth: ...


def vendor_url(sandbox: Sandbox, vendor: str) -> str:
    """The sandbox's base URL for ``vendor`` (``"teamup"`` or ``"up2money"``)."""
    return sandbox.teamup_url if vendor == "teamup" else sandbox.up2money_url


def session_with(auth: PasswordAuth) -> requests.Session:
    """A new requests session that sends every request through ``auth``."""
    session = requests.Session()
    session.auth = auth
    return session
