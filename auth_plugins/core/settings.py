"""One auth's settings: option values resolved once, secrets asked for once, when needed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .errors import AuthPluginError, ConfigError
from .secrets import AskLast, Given, LazySecret, source_for
from .text import redact, secret_values
from .vendor import Vendor, check_header_value, header_option_names

#: Keys the in-process digests of secrets (:meth:`Settings.sharing_key`); new in each process.
_PROCESS_KEY = os.urandom(32)


class Settings:
    """The values of a vendor's options for one auth.

    Each value is the argument, else its environment variable, else its
    default (:meth:`Vendor.resolve_options`). A secret may also come from a
    callable given as the argument, a command (``password_command=``,
    ``TEAMUP_PASSWORD_COMMAND``), the keyring or a front end's prompt, in the
    order :mod:`.secrets` documents: such a source is asked the first time the
    value is needed, once, and its answer kept; :meth:`source` says where a
    value came from.
    """

    def __init__(self, vendor: Vendor, given: Mapping[str, Any]) -> None:
        self.vendor = vendor
        given = {k: v for k, v in given.items() if v is not None}
        #: Where each secret came from (or will come from), for messages.
        self._sources: dict[str, str] = {}
        commands: dict[str, Any] = {}
        last: dict[str, AskLast] = {}
        secret_options = [option for option in vendor.all_options() if option.secret]
        for option in secret_options:
            name = option.name
            if f"{name}_command" in given:
                commands[name] = given.pop(f"{name}_command")
            if isinstance(given.get(name), AskLast):
                last[name] = given.pop(name)
            if name in given:
                if name in commands:
                    raise ConfigError(
                        f"{vendor.title} got both {name}= and {name}_command=; give one"
                    )
                self._sources[name] = f"argument {name}="
                if callable(given[name]):
                    given[name] = Given(given[name], self._sources[name])
            else:
                # Passed through as it is (a callable secret); decided below, once
                # the user name and base URL (the keyring's key) are known.
                given[name] = _pending
        values = vendor.resolve_options(given)
        values["base_url"] = str(values["base_url"]).rstrip("/")
        for option in secret_options:
            if values[option.name] is _pending:
                value, where = source_for(
                    vendor, option, values, commands.get(option.name), last.get(option.name)
                )
                values[option.name] = value
                if where:
                    self._sources[option.name] = where
        self._values = values
        #: Options that go into a header: they must be fit for one.
        self._in_headers = header_option_names(vendor)
        for name, value in values.items():
            self._check(name, value)
        # One fetch per secret even when threads need it at once (a command runs once).
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The API base URL, without a trailing slash."""
        return str(self._values["base_url"])

    @property
    def username(self) -> str:
        """The user name (or e-mail) to log in as."""
        return str(self._values["username"])

    def get(self, name: str) -> Any:
        """A value as it stands (a secret not asked for yet is still a callable)."""
        return self._values.get(name)

    def set(self, name: str, value: Any) -> None:
        """Replace a value (a new password, a verification key, a spent key as ``None``)."""
        self._values[name] = value
        self._sources.pop(name, None)

    def source(self, name: str) -> Optional[str]:
        """Where a secret came from: ``"environment variable TEAMUP_PASSWORD"``, ``"the
        keyring (service ..., user ...)"``, ``"the command 'pass show x' (...)"``.

        ``None`` for a value set by the program (``reset(password=...)``) or none
        at all; a source not asked yet names every place it may still come from.
        """
        return self._sources.get(name) or getattr(self._values.get(name), "where", None)

    def explain(self, error: AuthPluginError) -> AuthPluginError:
        """Say in ``error`` where the secrets it may be about came from (in place).

        Used on a refused login: "the password came from the keyring (...)" tells
        a person which stored password to fix. Never the values themselves.
        """
        told = [
            f"the {name} came from {where}"
            for name, where in self._sources.items()
            if isinstance(self._values.get(name), str) and _worth_telling(name, where)
        ]
        if told:
            said = redact("; ".join(told), self.secrets())
            error.summary = f"{error.summary.rstrip('. ')} ({said})"
            error.with_hint(error.hint)
        return error

    def values(self, names: Optional[Iterable[str]] = None) -> dict[str, Any]:
        """The values, with each secret given as a callable asked for (once).

        ``names``: ask only for these; the others may stay callables.
        """
        wanted = None if names is None else set(names)
        for name, value in list(self._values.items()):
            if _lazy(value) and (wanted is None or name in wanted):
                self._fetch(name)
        return dict(self._values)

    def _fetch(self, name: str) -> None:
        with self._lock:
            value = self._values.get(name)
            if not _lazy(value):  # another thread fetched it meanwhile
                return
            if not isinstance(value, LazySecret):  # a callable set() after construction
                assert callable(value)
                value = Given(value, "a callable")
            answer = value.fetch()
            if not answer:
                raise ConfigError(f"{self.vendor.title} needs a {name}; none was given")
            self._check(name, answer)
            self._values[name] = answer
            self._sources[name] = value.where

    def _check(self, name: str, value: Any) -> None:
        """A value bound for a header has no line break or control character (never shown)."""
        if name in self._in_headers:
            check_header_value(self.vendor, name, value)

    def sharing_key(self) -> Optional[tuple[str, ...]]:
        """What auths must have in common to share one login in a process; ``None`` if unknown.

        Vendor, base URL, user name and an HMAC of every secret under a key made
        for this process: equal for equal credentials, and worthless outside the
        process (nothing of it is ever stored). A secret not asked for yet (a
        callable) leaves it unknown.
        """
        secret = [o.name for o in self.vendor.all_options() if o.secret]
        values = [self._values.get(name) for name in secret]
        if any(_lazy(value) for value in values):
            return None
        # JSON, not a join: no secret's characters can move a boundary between two.
        material = json.dumps(values).encode()
        digest = hmac.new(_PROCESS_KEY, material, hashlib.sha256).hexdigest()
        return (self.vendor.name, self.base_url, self.username, digest)

    def secrets(self, *more: Optional[str]) -> list[str]:
        """Every secret known so far (and ``more``), to keep out of messages."""
        found = secret_values(self.vendor, self._values)
        return found + [value for value in more if value]

    def shown(self) -> str:
        """The values for a ``repr``: secrets as ``***``."""
        secret = {option.name for option in self.vendor.all_options() if option.secret}
        return ", ".join(
            f"{name}=***" if name in secret else f"{name}={value!r}"
            for name, value in self._values.items()
            if value is not None
        )

    def __getstate__(self) -> dict[str, Any]:
        # Auth objects may cross process boundaries: a lock does not pickle.
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _pending() -> None:
    """Marks a secret the call did not give, until its sources are known."""


def _lazy(value: Any) -> bool:
    return isinstance(value, LazySecret) or callable(value)


def _worth_telling(name: str, where: str) -> bool:
    """Is a source not plain to see? (The program's own argument and a prompt are.)"""
    if where.startswith(("argument ", "a callable", "the terminal")):
        return False
    # The password's variable too; other variables are already named by the CLI's advice.
    return name == "password" or not where.startswith("environment variable")
