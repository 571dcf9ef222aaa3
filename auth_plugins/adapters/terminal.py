"""Asking a person at a terminal for what a login needs: the ``auth-plugins`` command and HTTPie.

Both front ends take the user name from the command line or the environment,
and ask for a password or a two-factor code only when a login is actually
needed (a stored token may do). HTTPie runs this on every request of
``http --auth-type teamup``, so it imports only what that costs nothing:
no ``argparse`` (the ``auth-plugins`` command's parser lives in
:mod:`auth_plugins.cli`), and everything else when it is first called.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..core.errors import AuthPluginError, ConfigError

if TYPE_CHECKING:
    from ..core.errors import TwoFactorRequired
    from ..core.vendor import Vendor

__all__ = [
    "accepts_keyword",
    "command_line_hint",
    "command_line_options",
    "password_prompt",
    "terminal_two_factor",
]


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
    from ..core.secrets import AskLast, keyring_advice
    from ..core.vendor import named_user

    password_env = f"{vendor.env_prefix}_PASSWORD"
    user = named_user(vendor, username)
    if not user:
        raise ConfigError(
            f"{vendor.title} needs your {vendor.username_label}: give {user_hint} or set "
            f"{vendor.username_variable}"
        )
    if password:
        return {"username": user, "password": password}
    how = f"give {password_hint}, " if password_hint else ""

    def missing() -> str:
        # Written only when it is shown: asking whether keyring is installed
        # costs a module search, and a stored token needs no password at all.
        keep = keyring_advice(f"auth-plugins login {vendor.name} {user}")
        return (
            f"{vendor.title} needs the password of {user} to log in: {how}set {password_env} "
            f"or {password_env}_COMMAND (a command printing it), {keep}, "
            "or run in a terminal to be asked"
        )

    prompt = password_prompt(f"{vendor.title} password for {user}: ", missing)
    return {"username": user, "password": AskLast(prompt)}


def command_line_hint(exc: AuthPluginError, vendor: Vendor, user_hint: str) -> AuthPluginError:
    """Give ``exc`` advice for a command-line user instead of a programmer (in place)."""
    from ..core.errors import AccountLocked, InvalidCredentials, TwoFactorRequired

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


def password_prompt(prompt: str, error: str | Callable[[], str]) -> Callable[[], str]:
    """A password source that asks at the terminal when called.

    Without a terminal, or when nothing is typed, it raises :class:`ConfigError`
    with the message ``error`` (or what ``error()`` returns, written only then);
    only its first part when nothing is typed.
    """

    def message() -> str:
        return error() if callable(error) else error

    def ask() -> str:
        if not sys.stdin.isatty():
            raise ConfigError(message())
        import getpass

        try:
            answer = getpass.getpass(prompt)
        except EOFError:
            answer = ""
        if not answer:
            raise ConfigError(message().split(":")[0] + ": no password was typed")
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
    import inspect  # not at module level: HTTPie imports this module on every run

    try:
        parameter = inspect.signature(factory).parameters.get(name)
    except (TypeError, ValueError):
        return False
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return parameter is not None and parameter.kind in keyword_kinds
