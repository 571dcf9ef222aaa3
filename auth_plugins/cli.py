"""The ``auth-plugins`` command (sandbox, vendors, token, login, logout), and its terminal helpers.

The helpers (:func:`command_line_options`, :func:`terminal_two_factor`) are
shared with the HTTPie plugin: both ask a person at a terminal for what a
login needs, and only when a login is actually needed (a stored token may do).
This module imports only the standard library at module level, so the HTTPie
plugin can import it late without cost.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from .errors import AuthPluginError, ConfigError

if TYPE_CHECKING:
    from .errors import TwoFactorRequired
    from .vendor import Vendor

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


# -- shared with the HTTPie plugin ---------------------------------------------------------


def command_line_options(
    vendor: Vendor,
    username: Optional[str],
    password: Optional[str],
    *,
    user_hint: str,
    password_hint: Optional[str],
) -> dict[str, Any]:
    """``username`` and ``password`` for a vendor's auth, as a command-line user expects.

    The user name is the one given, else the vendor's environment variable.
    The password is the one given, else whatever the auth finds in the order
    every front end shares (:mod:`auth_plugins.core.secrets`: a command, the
    environment variable, the keyring), else a prompt at the terminal, asked
    only if a login is needed. ``{PREFIX}_PASSWORD`` and its ``_COMMAND`` are
    used only when the user-name variable names the user logging in (they are
    never sent as another user's password). ``user_hint``/``password_hint`` say
    how to give them on this command line.
    """
    from .core.secrets import AskLast, keyring_enabled

    user_env = vendor.username_env or f"{vendor.env_prefix}_USERNAME"
    password_env = f"{vendor.env_prefix}_PASSWORD"
    user = (username or "").strip() or (os.environ.get(user_env) or "").strip()
    if not user:
        raise ConfigError(
            f"{vendor.title} needs your {vendor.username_label}: give {user_hint} or set {user_env}"
        )
    if password:
        return {"username": user, "password": password}
    how = f"give {password_hint}, " if password_hint else ""
    keep = (
        f"keep it in the keyring (auth-plugins login {vendor.name} {user})"
        if keyring_enabled()
        else "pip install 'auth-plugins[keyring]' to keep it in the keyring"
    )
    prompt = password_prompt(
        f"{vendor.title} password for {user}: ",
        f"{vendor.title} needs the password of {user} to log in: {how}set {password_env} "
        f"or {password_env}_COMMAND (a command printing it), {keep}, "
        "or run in a terminal to be asked",
    )
    return {"username": user, "password": AskLast(prompt)}


def command_line_hint(exc: AuthPluginError, vendor: Vendor, user_hint: str) -> AuthPluginError:
    """Give ``exc`` advice for a command-line user instead of a programmer (in place)."""
    from .errors import AccountLocked, InvalidCredentials, TwoFactorRequired

    if isinstance(exc, TwoFactorRequired) and exc.pending_login_id:
        # The engine's advice names Python methods; a terminal user gets a prompt instead.
        return exc.with_hint(
            "Run in a terminal to be asked for the phone number and the SMS code, or set "
            f"{vendor.env_prefix}_VERIFICATION_KEY to a verification key"
        )
    if isinstance(exc, (InvalidCredentials, AccountLocked)) and exc.remembered:
        # Refused before by a run sharing the token store: say so, and how to clear it
        # in a terminal's terms (the engine's advice names auth.reset()).
        return exc.with_hint(
            f"{exc.hint.split(';')[0]}; check the {vendor.username_label} and password "
            f"({user_hint}, {vendor.env_prefix}_PASSWORD), or run `auth-plugins logout "
            f"{vendor.name}` to clear it"
        )
    if isinstance(exc, InvalidCredentials):
        # Each process sends the password again, so "not sent again" does not apply here.
        return exc.with_hint(
            f"Check the {vendor.username_label} and password ({user_hint}, "
            f"{vendor.env_prefix}_PASSWORD)"
        )
    return exc


def password_prompt(prompt: str, error: str) -> Callable[[], str]:
    """A password source that asks at the terminal when called (:class:`ConfigError` if none)."""

    def ask() -> str:
        if not sys.stdin.isatty():
            raise ConfigError(error)
        import getpass

        try:
            answer = getpass.getpass(prompt)
        except EOFError:
            answer = ""
        if not answer:
            raise ConfigError(error.split(":")[0] + ": no password was typed")
        return answer

    return ask


def terminal_two_factor(auth: Any, error: TwoFactorRequired) -> bool:
    """TeamUp two-factor at a terminal: ask for the phone number and the SMS code.

    Prompts go to stderr (stdout carries the response or the token). Without a
    terminal it returns False and the error stands (the HTTPie plugin and the
    command then name ``TEAMUP_VERIFICATION_KEY``).
    """
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{auth.vendor.title} asks for a two-factor login.\n")
    if len(error.providers) == 1:
        provider = error.providers[0]
    else:
        named = ", ".join(map(str, error.providers))
        answer = _ask(f"Provider id{f' ({named})' if named else ''}: ")
        if not answer.isdigit():
            raise ConfigError(f"a provider id is a number, not {answer!r}")
        provider = int(answer)
    phone = _ask("Phone number for the SMS code: ")
    auth.start_two_factor(phone, provider, error.pending_login_id)
    auth.verify_two_factor(phone, _ask("SMS code: "))
    return True


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise ConfigError("no answer was typed (end of input)")
    return line.strip()


def accepts_keyword(factory: Callable[..., Any], name: str) -> bool:
    """Does ``factory`` take a keyword argument ``name``?"""
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
