"""Where a secret comes from when the call does not give it: a command, the environment, a keyring.

One order, for requests, httpx and HTTPie alike (the README says why):

1. the argument (``password=``: a value, or a callable asked once);
2. a command printing it: ``password_command=``, then ``{ENV}_COMMAND``
   (``TEAMUP_PASSWORD_COMMAND``);
3. the environment variable (``TEAMUP_PASSWORD``);
4. the system keyring (password and required secret options only);
5. a last resort the front end adds: HTTPie's and the command's terminal prompt.

Nothing here runs at construction: a command, a keyring read or a prompt is a
:class:`LazySecret` that :class:`~.settings.Settings` calls when a login (or an
API header) first needs the value. The ``keyring`` package is imported only
then, so ``import auth_plugins`` and HTTPie's start-up never load it.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import Sequence
from typing import Any, Callable, Optional

from .errors import ConfigError
from .text import quote, redact
from .vendor import Option, Vendor

logger = logging.getLogger("auth_plugins")

#: ``off`` (or 0/no/false): never read the keyring.
KEYRING_SWITCH_ENV = "AUTH_PLUGINS_KEYRING"
_OFF = {"0", "off", "no", "false"}


def keyring_service(vendor: Vendor, base_url: str) -> str:
    """The keyring service of a vendor's API: ``auth-plugins:<vendor>:<base URL>``.

    The base URL is part of it, as in token keys: a sandbox's or a staging
    server's password is never sent to production.
    """
    return f"auth-plugins:{vendor.name}:{base_url.rstrip('/')}"


def keyring_user(option: str, username: str) -> str:
    """The keyring user name: the user for the password, ``option:<name>`` for other secrets.

    Other secret options (an API secret, a direct-auth key) belong to the
    application, not to one user, so every user of the API shares them.
    """
    return username if option == "password" else f"option:{option}"


def keyring_enabled() -> bool:
    """Is the keyring installed and not switched off? (It is not imported to find out.)"""
    return not _keyring_switched_off() and _keyring_installed()


@functools.cache
def _keyring_installed() -> bool:
    # Asked once per process: finding a package searches the whole import path,
    # and a run with a cached token (HTTPie's) asks while building its messages.
    return importlib.util.find_spec("keyring") is not None


def keyring_advice(login: str) -> str:
    """How to keep a secret in the keyring: ``login`` (a command), or why it cannot be used."""
    if keyring_enabled():
        return f"keep it in the system keyring ({login})"
    if _keyring_switched_off():
        return f"keep it in the system keyring (switched off by {KEYRING_SWITCH_ENV})"
    return "pip install 'auth-plugins[keyring]' to keep it in the system keyring"


def _keyring_switched_off() -> bool:
    return os.environ.get(KEYRING_SWITCH_ENV, "").strip().lower() in _OFF


class LazySecret:
    """A source asked for its secret only when it is needed; ``where`` names it in messages."""

    where = "a callable"

    def fetch(self) -> Optional[str]:
        """The secret, ``None`` when this source has none, :class:`ConfigError` when it broke."""
        raise NotImplementedError

    def __call__(self) -> Optional[str]:
        # Callable like any lazy secret a caller passes (Vendor.resolve_options lets them by).
        return self.fetch()

    def __repr__(self) -> str:
        return f"<secret from {self.where}>"


class Given(LazySecret):
    """The caller's own callable (a prompt, a vault client): asked once, it must answer."""

    def __init__(self, ask: Callable[[], Any], where: str) -> None:
        self.ask = ask
        self.where = where

    def fetch(self) -> Optional[str]:
        """What the callable answers (anything but a non-empty string counts as none)."""
        answer = self.ask()
        return answer if isinstance(answer, str) and answer else None


class AskLast(Given):
    """A front end's last resort (a terminal prompt): used when no other source has the secret.

    ``auth-plugins`` and the HTTPie plugin pass ``password=AskLast(prompt)``.
    """

    def __init__(self, ask: Callable[[], Any], where: str = "the terminal prompt") -> None:
        super().__init__(ask, where)


class KeyringSecret(LazySecret):
    """An entry of the system keyring; an unusable or missing keyring is simply no entry."""

    def __init__(self, service: str, user: str) -> None:
        self.service = service
        self.user = user
        self.where = f"the keyring (service {service!r}, user {user!r})"
        #: Why the last look-up found nothing, for the "needs a password" message.
        self.problem = ""

    def fetch(self) -> Optional[str]:
        """The stored secret, or ``None`` (no entry, no keyring, a broken backend)."""
        try:
            import keyring

            found = keyring.get_password(self.service, self.user)
        except Exception as exc:
            # A backend may raise anything (DBus, a locked collection): it means "none".
            # Only the type: a backend's message is not ours to vouch for.
            self.problem = f"the keyring could not be read ({type(exc).__name__})"
            logger.debug("keyring look-up for %s failed: %s", self.service, type(exc).__name__)
            return None
        if not found:
            self.problem = f"the keyring has no entry for {self.service!r}, user {self.user!r}"
        return found or None


class Chain(LazySecret):
    """The lazy sources of one secret, in order; the first that has it wins."""

    def __init__(self, sources: Sequence[LazySecret], missing: str) -> None:
        self.sources = list(sources)
        self.missing = missing
        self.where = " or ".join(source.where for source in self.sources)

    def fetch(self) -> Optional[str]:
        """The first secret found; :class:`ConfigError` naming every way to give it if none."""
        problems = []
        for source in self.sources:
            found = source.fetch()
            if found:
                self.where = source.where
                return found
            problems.append(getattr(source, "problem", ""))
        why = "; ".join(p for p in problems if p)
        raise ConfigError(f"{self.missing} ({why})" if why else self.missing)


def source_for(
    vendor: Vendor,
    option: Option,
    values: dict[str, Any],
    command: Optional[Any],
    last: Optional[AskLast],
) -> tuple[Any, str]:
    """The value of a secret option the call did not give, or the lazy source of it.

    Returns ``(value_or_source, where)``; ``(None, "")`` for an optional secret
    nobody gave. Raises :class:`ConfigError` for a required one nothing can give.
    """
    name = option.name
    if command is not None:
        from .secret_command import CommandSecret  # only a command source pays for it

        return CommandSecret(vendor, name, command, f"argument {name}_command="), ""
    env = option.env if option.env and _environment_belongs(vendor, option, values) else None
    if env and os.environ.get(f"{env}_COMMAND"):
        from .secret_command import CommandSecret

        return CommandSecret(vendor, name, os.environ[f"{env}_COMMAND"], f"{env}_COMMAND"), ""
    if env and os.environ.get(env):
        return os.environ[env], f"environment variable {env}"
    lazy: list[LazySecret] = []
    if option.required and keyring_enabled():
        service = keyring_service(vendor, str(values["base_url"]))
        lazy.append(KeyringSecret(service, keyring_user(name, str(values["username"]))))
    if last is not None:
        lazy.append(last)
    missing = missing_message(vendor, option, str(values.get("username") or ""))
    if lazy:
        return Chain(lazy, missing), ""
    if option.required:
        raise ConfigError(missing)
    return None, ""


def missing_message(vendor: Vendor, option: Option, username: str) -> str:
    """The message ``<Vendor> needs <what>: set ...``, naming every source of the secret."""
    where = f"argument {option.name}="
    if option.env:
        where += f" or environment variable {option.env}"
    where += f", a command printing it ({option.name}_command=" + (
        f" or {option.env}_COMMAND)" if option.env else ")"
    )
    login = f"auth-plugins login {vendor.name}"
    login += f" {username}" if option.name == "password" else f" --option {option.name}"
    where += f", or {keyring_advice(login)}"
    return f"{vendor.title} needs {option.help or option.name}: set {where}"


def _environment_belongs(vendor: Vendor, option: Option, values: dict[str, Any]) -> bool:
    """The password variables are those of the user named by the user-name variable, if set.

    ``TEAMUP_PASSWORD`` is never sent as the password of another user than
    ``TEAMUP_USERNAME`` (``http -a bob`` with alice's variables set).
    """
    if option.name != "password":
        return True
    user_env = vendor.username_variable
    env_user = (os.environ.get(user_env) or "").strip()
    return not env_user or env_user.lower() == str(values.get("username") or "").lower()


# -- writing the keyring (auth-plugins login / logout --forget-password) ---------------------


def check_keyring(service: str, user: str, alternatives: str) -> None:
    """Raise :class:`ConfigError` naming ``alternatives`` unless a usable keyring is there.

    A read is the probe: the fail backend of a headless server or a container
    raises there, before anyone types a password for nothing.
    """
    _keyring_call("get_password", service, user, alternatives=alternatives)


def store_secret(service: str, user: str, secret: str, alternatives: str) -> None:
    """Keep ``secret`` in the keyring; :class:`ConfigError` (never a backend traceback) if not."""
    _keyring_call("set_password", service, user, secret, alternatives=alternatives)


def delete_secret(service: str, user: str, alternatives: str) -> bool:
    """Remove an entry; False when there was none."""
    return bool(_keyring_call("delete_password", service, user, alternatives=alternatives))


def _keyring_call(method: str, *args: str, alternatives: str) -> Any:
    try:
        import keyring
        from keyring.errors import PasswordDeleteError
    except ImportError:
        raise ConfigError(
            "the keyring package is not installed: pip install 'auth-plugins[keyring]', "
            f"or use {alternatives}"
        ) from None
    failure: Optional[ConfigError] = None
    try:
        found = getattr(keyring, method)(*args)
    except PasswordDeleteError:
        return False  # no such entry
    except Exception as exc:
        # The backend's own words say what is missing (e.g. "No recommended backend
        # was available"); the secret is taken out of them, in case one echoes it.
        said = quote(redact(str(exc), args[2:]), 200)
        failure = ConfigError(
            f"no usable keyring ({type(exc).__name__}: {said}); on a headless server or in a "
            f"container, use {alternatives} instead"
        )
    if failure is not None:  # raised here: the backend's error may hold the secret stored
        raise failure
    return True if method == "delete_password" else found
