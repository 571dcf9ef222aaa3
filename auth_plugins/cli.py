"""The ``auth-plugins`` command (sandbox, vendors, token, login, logout).

The terminal helpers it shares with the HTTPie plugin live in
:mod:`auth_plugins.adapters.terminal` (which imports no ``argparse``, so that
``http --auth-type teamup`` does not pay for this command's parser); they stay
importable from here under their old names.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from .adapters.terminal import (
    accepts_keyword,
    command_line_hint,
    command_line_options,
    password_prompt,
    terminal_two_factor,
)
from .errors import AuthPluginError, ConfigError

__all__ = [
    "accepts_keyword",
    "command_line_hint",
    "command_line_options",
    "main",
    "password_prompt",
    "terminal_two_factor",
]

#: Exit status of a failed command (argparse usage errors keep their own, 2).
FAILURE = 1


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["sandbox"]:
        # The sandbox has its own options and --help.
        from .sandbox import main as sandbox_main

        return sandbox_main(args[1:])
    parser = _parser()
    options = parser.parse_args(args)
    try:
        return int(options.run(options))
    except AuthPluginError as exc:
        print(f"auth-plugins: error: {exc}", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        print("\nauth-plugins: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auth-plugins",
        description="Password-login APIs from requests and HTTPie: vendors, tokens, sandbox.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "sandbox",
        help="run a local sandbox of the vendor APIs (see: auth-plugins sandbox --help)",
    )

    vendors = commands.add_parser(
        "vendors",
        help="list installed vendors and where each comes from",
        description=(
            "List the installed vendors: name, where it comes from (built-in or the plugin "
            "package), default base URL, and the settings with their environment variables."
        ),
    )
    vendors.set_defaults(run=_vendors)

    token = commands.add_parser(
        "token",
        help="print a valid token for a vendor, logging in if needed",
        description=(
            "Print a token good for now (from the token cache, or by logging in), for curl "
            "or scripts. Settings come from the vendor's environment variables "
            "(see: auth-plugins vendors); the password is asked for at a terminal when "
            "the variable is not set and a login is needed."
        ),
    )
    token.add_argument("vendor", help="vendor name, e.g. teamup")
    token.add_argument(
        "-u", "--user", help="user name or e-mail (default: the vendor's environment variable)"
    )
    token.set_defaults(run=_token)

    logout = commands.add_parser(
        "logout",
        help="delete stored tokens (all, or one vendor's)",
        description=(
            "Delete the tokens kept in the token store (all, or one vendor's), with the "
            "refused logins it remembers: the token cache folder, or the Redis that "
            "AUTH_PLUGINS_TOKEN_STORE names."
        ),
    )
    logout.add_argument("vendor", nargs="?", help="only this vendor's tokens")
    logout.add_argument(
        "--forget-password",
        action="store_true",
        help="also remove the password kept in the keyring by auth-plugins login",
    )
    logout.add_argument(
        "-u",
        "--user",
        help="with --forget-password: whose (default: the vendor's environment variable)",
    )
    logout.set_defaults(run=_logout)

    tokens = commands.add_parser(
        "tokens",
        help="list stored tokens (vendor, user, base URL)",
        description="List the tokens in the token store, never the tokens themselves.",
    )
    tokens.set_defaults(run=_tokens)
    from .keyring_cli import add_login_command

    add_login_command(commands)
    return parser


def _vendors(_: argparse.Namespace) -> int:
    from .plugins import available_vendors

    for name, entry in available_vendors().items():
        vendor = entry.vendor
        print(f"{name}: {vendor.description or vendor.title} [{entry.source}]")
        print(f"    base URL {vendor.base_url}")
        for option in vendor.all_options():
            need = "required" if option.required and option.default is None else "optional"
            print(f"    {option.name:<18} {option.env or '':<26} {need}: {option.help}")
    return 0


def _token(options: argparse.Namespace) -> int:
    from .plugins import get_vendor
    from .stores import token_store_from_env

    entry = get_vendor(options.vendor)
    settings = command_line_options(
        entry.vendor, options.user, None, user_hint="--user USER", password_hint=None
    )
    if accepts_keyword(entry.factory, "two_factor_handler"):
        settings["two_factor_handler"] = terminal_two_factor
    auth = entry.factory(**settings, token_store=token_store_from_env())
    with auth:
        try:
            token = auth.get_token()
        except AuthPluginError as exc:
            raise command_line_hint(exc, entry.vendor, "--user USER") from None
    print(token.access_token)
    return 0


def _logout(options: argparse.Namespace) -> int:
    store = _listable_store()
    if options.forget_password and not options.vendor:
        raise ConfigError("--forget-password needs the vendor: auth-plugins logout VENDOR ...")
    if options.vendor:
        _check_vendor(options.vendor, store)
    removed = store.clear(options.vendor)
    print(f"removed {removed} stored token(s) from {_where(store)}")
    if options.forget_password:
        from .keyring_cli import forget_password

        forget_password(options.vendor, options.user)
    return 0


def _check_vendor(name: str, store: Any) -> None:
    """A typo must not report "removed 0" and exit 0: unknown vendors are an error.

    A vendor whose plugin was uninstalled but whose tokens are still stored is
    not unknown here: logging it out is how those tokens go.
    """
    from .plugins import get_vendor

    try:
        get_vendor(name)
    except ConfigError:
        stored: list[Any] = store.keys()
        if not any(key.vendor == name for key in stored):
            raise


def _tokens(_: argparse.Namespace) -> int:
    store = _listable_store()
    keys = store.keys()
    for key in keys:
        print(f"{key.vendor}\t{key.username}\t{key.base_url}")
    if not keys:
        print(f"no stored tokens in {_where(store)}", file=sys.stderr)
    return 0


def _listable_store() -> Any:
    """The store the other commands use, when it can list and clear (file or Redis)."""
    from .stores import FileTokenStore, token_store_from_env

    store = token_store_from_env()
    # A memory store (AUTH_PLUGINS_TOKEN_CACHE=off) holds nothing between runs:
    # the cache folder is still where earlier runs may have left tokens.
    return store if hasattr(store, "clear") and hasattr(store, "keys") else FileTokenStore()


def _where(store: Any) -> str:
    return str(getattr(store, "directory", None) or store)


if __name__ == "__main__":
    sys.exit(main())
