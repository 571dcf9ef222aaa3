"""HTTPie auth plugins: ``http --auth-type teamup`` and ``http --auth-type up2money``.

HTTPie imports this module on every run, ``http --version`` included, so it
imports nothing of ours at module level: the vendors, pluggy and the token
store load when the first request needs a token.

Third-party vendor plugins get an HTTPie auth type with one line::

    AcmePlugin = httpie_auth_plugin("acme", "Acme Corp API")

registered in their ``pyproject.toml`` under ``httpie.plugins.auth.v1``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from httpie.plugins import AuthPlugin

if TYPE_CHECKING:
    import requests

    from .auth import PasswordAuth


class LazyVendorAuth:
    """What HTTPie gets from ``get_auth``: builds the real auth on the first request.

    Building it late keeps argument parsing cheap and lets a setting error
    surface where HTTPie prints it as one line, not as a traceback.
    """

    def __init__(self, vendor: str, username: Optional[str], password: Optional[str]) -> None:
        self.vendor = vendor
        self._username = username
        self._password = password
        self._auth: Optional[PasswordAuth] = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._auth is None:
            self._auth = self._build()
        return self._auth(request)

    def _build(self) -> PasswordAuth:
        from .plugins import get_vendor
        from .stores import token_store_from_env

        entry = get_vendor(self.vendor)
        password_env = f"{entry.vendor.env_prefix}_PASSWORD"
        password: Any = (
            self._password
            or os.environ.get(password_env)
            or _prompt_later(entry.vendor.title, password_env)
        )
        options: dict[str, Any] = {"password": password, "token_store": token_store_from_env()}
        if self._username:
            options["username"] = self._username
        if entry.vendor.name == "teamup":
            options["two_factor_handler"] = _two_factor_prompt
        return entry.factory(**options)

    def __repr__(self) -> str:
        # http --debug prints this: never the password.
        who = self._username or "(user from the environment)"
        return f"<auth-plugins {self.vendor} auth for {who}, password=***>"


def _prompt_later(title: str, env: str) -> Callable[[], str]:
    """A password source asked only if a login is needed (a stored token may do)."""

    def ask() -> str:
        from .errors import ConfigError

        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise ConfigError(
                f"{title} needs a password to log in: give -a USER:PASSWORD, or set {env}, "
                "or run in a terminal to be asked"
            )
        import getpass

        return getpass.getpass(f"{title} password: ")

    return ask


def _two_factor_prompt(auth: Any, error: Any) -> bool:
    """TeamUp two-factor in a terminal: ask for the phone number and the SMS code.

    Prompts go to stderr (stdout is the response). Without a terminal it
    returns False and the error stands; its message names ``TEAMUP_VERIFICATION_KEY``.
    """
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    sys.stderr.write("TeamUp asks for a two-factor login.\n")
    provider = error.providers[0] if error.providers else int(_ask("TeamUp provider id: "))
    phone = _ask("Phone number for the SMS code: ")
    auth.start_two_factor(phone, provider, error.pending_login_id)
    auth.verify_two_factor(phone, _ask("SMS code: "))
    return True


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip()


class _VendorAuthPlugin(AuthPlugin):  # type: ignore[misc]
    """An HTTPie auth type for one vendor."""

    vendor_name = ""
    # -a is optional: the user name and password may come from the environment
    # or ~/.netrc, and a stored token may need no password at all.
    auth_require = False
    netrc_parse = True
    prompt_password = True

    def get_auth(
        self, username: Optional[str] = None, password: Optional[str] = None
    ) -> LazyVendorAuth:
        # HTTPie's --session stores raw_auth: keep only the user name there.
        if username:
            self.raw_auth = username
        return LazyVendorAuth(self.vendor_name, username, password)


def httpie_auth_plugin(vendor: str, description: str = "") -> type[AuthPlugin]:
    """An HTTPie auth plugin class for a registered vendor: ``--auth-type VENDOR``."""
    return type(
        f"{vendor.title().replace('-', '')}HTTPiePlugin",
        (_VendorAuthPlugin,),
        {
            "name": f"{vendor} (auth-plugins)",
            "auth_type": vendor,
            "vendor_name": vendor,
            "description": description
            or f"log in to {vendor} with a password; -a USER[:PASSWORD] or environment variables",
        },
    )


TeamUpPlugin = httpie_auth_plugin(
    "teamup",
    "TeamUp API v2 login. -a EMAIL[:PASSWORD], or TEAMUP_USERNAME/TEAMUP_PASSWORD; "
    "needs TEAMUP_DIRECT_AUTH_KEY. Tokens are kept between runs.",
)
Up2MoneyPlugin = httpie_auth_plugin(
    "up2money",
    "up2.money login. -a EMAIL[:TOKENIZED_PASSWORD], or UP2MONEY_EMAIL/UP2MONEY_PASSWORD; "
    "needs UP2MONEY_SECRET. Tokens are kept between runs.",
)
