"""One auth's settings: option values resolved once, secrets asked for once, when needed."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .answers import secret_values
from .errors import ConfigError
from .vendor import Vendor, template_names

#: Keys the in-process digests of secrets (:meth:`Settings.sharing_key`); new in each process.
_PROCESS_KEY = os.urandom(32)


class Settings:
    """The values of a vendor's options for one auth.

    Each value is the argument, else its environment variable, else its
    default (:meth:`Vendor.resolve_options`). A secret may be a callable (a
    prompt, a keyring look-up): it is called the first time a value is needed,
    once, and its answer kept.
    """

    def __init__(self, vendor: Vendor, given: Mapping[str, Any]) -> None:
        self.vendor = vendor
        values = vendor.resolve_options({k: v for k, v in given.items() if v is not None})
        values["base_url"] = str(values["base_url"]).rstrip("/")
        self._values = values
        #: Options that go into a header: they must be fit for one.
        self._in_headers = template_names(vendor.api_headers) | template_names(vendor.login_headers)
        for name, value in values.items():
            self._check(name, value)

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

    def values(self, names: Optional[Iterable[str]] = None) -> dict[str, Any]:
        """The values, with each secret given as a callable asked for (once).

        ``names``: ask only for these; the others may stay callables.
        """
        wanted = None if names is None else set(names)
        for name, value in list(self._values.items()):
            if callable(value) and (wanted is None or name in wanted):
                answer = value()
                if not isinstance(answer, str) or not answer:
                    raise ConfigError(f"{self.vendor.title} needs a {name}; none was given")
                self._check(name, answer)
                self._values[name] = answer
        return dict(self._values)

    def _check(self, name: str, value: Any) -> None:
        """A value bound for a header has no line break or control character (never shown)."""
        if name not in self._in_headers or not isinstance(value, str):
            return
        if not all(" " <= ch <= "~" or "\x80" <= ch <= "\xff" for ch in value) or (
            value != value.strip()
        ):
            option = next((o for o in self.vendor.all_options() if o.name == name), None)
            where = f"{name}=" + (f" or {option.env}" if option and option.env else "")
            raise ConfigError(
                f"{self.vendor.title} {name} has a line break, a control character or "
                f"spaces at an end, and it is sent in a header; check {where} (a stray "
                "newline from a file or a command is the usual cause)"
            )

    def sharing_key(self) -> Optional[tuple[str, ...]]:
        """What auths must have in common to share one login in a process; ``None`` if unknown.

        Vendor, base URL, user name and an HMAC of every secret under a key made
        for this process: equal for equal credentials, and worthless outside the
        process (nothing of it is ever stored). A secret not asked for yet (a
        callable) leaves it unknown.
        """
        secret = [o.name for o in self.vendor.all_options() if o.secret]
        values = [self._values.get(name) for name in secret]
        if any(callable(value) for value in values):
            return None
        material = "\0".join(value or "" for value in values).encode()
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
