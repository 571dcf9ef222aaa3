"""``auth-plugins login`` and ``auth-plugins logout --forget-password``: the keyring's entries.

``login`` asks for the password once (no echo) and keeps it in the system
keyring under the service :func:`~auth_plugins.core.secrets.keyring_service`
names; every later login of that vendor, user and base URL (requests, httpx,
``http -A VENDOR -a USER``) finds it there when no argument, command or
variable gives one. Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Optional

from .errors import ConfigError

if TYPE_CHECKING:
    from .core.vendor import Option, Vendor


def add_login_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``login`` subcommand."""
    login = commands.add_parser(
        "login",
        help="keep a password (or a secret option) in the system keyring",
        description=(
            "Ask for a password once, without echo, and keep it in the system keyring "
            "(service auth-plugins:VENDOR:BASE_URL, user USER). Logins then find it there "
            "when no argument, *_COMMAND or environment variable gives one. Without a "
            "terminal, the first line of standard input is taken. The password is not "
            "checked here: the next login does that."
        ),
    )
    login.add_argument("vendor", help="vendor name, e.g. teamup")
    login.add_argument(
        "user", nargs="?", help="user name or e-mail (default: the vendor's environment variable)"
    )
    login.add_argument(
        "--option",
        metavar="NAME",
        help="keep this secret option (e.g. secret, direct_auth_key) instead of a password; "
        "it is shared by every user of the vendor's API",
    )
    login.set_defaults(run=run_login)


def run_login(options: argparse.Namespace) -> int:
    """Ask for the secret and keep it in the keyring."""
    from .core import secrets

    vendor, option, service, user = _entry(options.vendor, options.user, options.option)
    what = _what(option, user)
    alternatives = _alternatives(vendor, option)
    # Before anyone types a password for nothing: is there a keyring to keep it in?
    secrets.check_keyring(service, user, alternatives)
    # The prompt HTTPie's and the token command's password prompt show.
    label = f"password for {user}" if option.name == "password" else option.name
    secret = _ask(f"{vendor.title} {label}: ")
    if not secret:
        raise ConfigError(f"no {option.name} was typed; nothing was stored")
    secrets.store_secret(service, user, secret, alternatives)
    print(f"kept the {what} in the keyring (service {service!r}, user {user!r})")
    return 0


def forget_password(vendor_name: str, username: Optional[str]) -> None:
    """``logout VENDOR --forget-password``: remove the user's keyring entry."""
    from .core import secrets

    vendor, option, service, user = _entry(vendor_name, username, None)
    removed = secrets.delete_secret(service, user, _alternatives(vendor, option))
    what = _what(option, user)
    done = f"removed the {what} from" if removed else f"found no {what} in"
    print(f"{done} the keyring (service {service!r}, user {user!r})")


def _entry(
    vendor_name: str, username: Optional[str], name: str | None
) -> tuple[Vendor, Option, str, str]:
    """The vendor, the secret option, and its keyring service and user name."""
    from .core.secrets import keyring_service, keyring_user
    from .core.vendor import named_user
    from .plugins import get_vendor

    vendor = get_vendor(vendor_name).vendor
    secret_options = {o.name: o for o in vendor.all_options() if o.secret}
    name = name or "password"
    if name not in secret_options:
        raise ConfigError(
            f"{vendor.title} has no secret option {name!r}; its secrets: "
            f"{', '.join(secret_options)}"
        )
    user = ""
    if name == "password":
        user = named_user(vendor, username)
        if not user:
            raise ConfigError(
                f"whose password? Give the user name, or set {vendor.username_variable}"
            )
    # The base URL the auths will use: its variable, else the vendor's default.
    base_url = os.environ.get(f"{vendor.env_prefix}_BASE_URL", "").strip() or vendor.base_url
    service = keyring_service(vendor, base_url)
    return vendor, secret_options[name], service, keyring_user(name, user)


def _what(option: Option, user: str) -> str:
    return f"password of {user}" if option.name == "password" else f"{option.name} option"


def _alternatives(vendor: Vendor, option: Option) -> str:
    env = option.env or f"{vendor.env_prefix}_{option.name.upper()}"
    return f"{env}_COMMAND (a command printing it, e.g. pass show ...) or {env}"


def _ask(prompt: str) -> str:
    """The secret, asked without echo at a terminal, else the first line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    try:
        return getpass.getpass(prompt)
    except EOFError:
        return ""
