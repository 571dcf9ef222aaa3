"""The ``auth-plugins`` command: sandbox, vendors, token, logout."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Optional

from .errors import AuthPluginError, ConfigError


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
        return 1
    except KeyboardInterrupt:
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

    vendors = commands.add_parser("vendors", help="list installed vendors and where each comes from")
    vendors.set_defaults(run=_vendors)

    token = commands.add_parser(
        "token",
        help="print a valid token for a vendor, logging in if needed",
        description=(
            "Print a token good for now (from the token cache, or by logging in), for curl "
            "or scripts. Settings come from the vendor's environment variables "
            "(see: auth-plugins vendors); the password is asked for when not set."
        ),
    )
    token.add_argument("vendor", help="vendor name, e.g. teamup")
    token.add_argument("-u", "--user", help="user name or e-mail (default: from the environment)")
    token.set_defaults(run=_token)

    logout = commands.add_parser(
        "logout", help="delete stored tokens (all, or one vendor's)", description="Delete stored tokens."
    )
    logout.add_argument("vendor", nargs="?", help="only this vendor's tokens")
    logout.set_defaults(run=_logout)
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
    prefix = entry.vendor.env_prefix
    password_env = f"{prefix}_PASSWORD"

    def ask() -> str:
        if not sys.stdin.isatty():
            raise ConfigError(f"{entry.vendor.title} needs a password to log in: set {password_env}")
        return getpass.getpass(f"{entry.vendor.title} password: ")

    auth = entry.factory(
        username=options.user,
        password=os.environ.get(password_env) or ask,
        token_store=token_store_from_env(),
    )
    with auth:
        print(auth.get_token().access_token)
    return 0


def _logout(options: argparse.Namespace) -> int:
    from .stores import FileTokenStore

    store = FileTokenStore()
    removed = store.clear(options.vendor)
    print(f"removed {removed} stored token(s) from {store.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
