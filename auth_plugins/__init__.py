"""auth-plugins: call password-login APIs from requests and HTTPie with no login code.

::

    import requests
    from auth_plugins import TeamUpAuth

    session = requests.Session()
    session.auth = TeamUpAuth("alice@example.com", "pw", direct_auth_key="KEY")
    session.get("https://goteamup.com/api/v2/customers")

Names are imported on first use: HTTPie imports this package on every run
(``http --version`` included), so importing it must cost next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "AccountLocked": "errors",
    "AuthPluginError": "errors",
    "BodyNotReplayable": "errors",
    "ConfigError": "errors",
    "InvalidCredentials": "errors",
    "LoginError": "errors",
    "RateLimited": "errors",
    "StepUpRequired": "errors",
    "TwoFactorRequired": "errors",
    "PasswordAuth": "auth",
    "Answer": "core.messages",
    "Token": "tokens",
    "FileTokenStore": "stores",
    "MemoryTokenStore": "stores",
    "RedisTokenStore": "stores.redis",
    "TokenStore": "stores",
    "Option": "vendor",
    "Vendor": "vendor",
    "hookimpl": "hookspecs",
    "get_auth": "plugins",
    "get_vendor": "plugins",
    "available_vendors": "plugins",
    "PluginLoadError": "plugins",
    "PluginWarning": "plugins",
    "TeamUpAuth": "vendors.teamup",
    "Up2MoneyAuth": "vendors.up2money",
}

__all__ = [
    "AccountLocked",
    "Answer",
    "AuthPluginError",
    "BodyNotReplayable",
    "ConfigError",
    "FileTokenStore",
    "InvalidCredentials",
    "LoginError",
    "MemoryTokenStore",
    "Option",
    "PasswordAuth",
    "PluginLoadError",
    "PluginWarning",
    "RateLimited",
    "RedisTokenStore",
    "StepUpRequired",
    "TeamUpAuth",
    "Token",
    "TokenStore",
    "TwoFactorRequired",
    "Up2MoneyAuth",
    "Vendor",
    "available_vendors",
    "get_auth",
    "get_vendor",
    "hookimpl",
]


def lazy_exports(
    namespace: dict[str, Any], exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import each of ``exports`` on first use.

    ``exports`` maps a public name to the submodule defining it; ``namespace`` is the
    package's ``globals()``. This package and :mod:`auth_plugins.stores` use it.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module_name}", package), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:
    from .auth import PasswordAuth
    from .core.messages import Answer
    from .errors import (
        AccountLocked,
        AuthPluginError,
        BodyNotReplayable,
        ConfigError,
        InvalidCredentials,
        LoginError,
        RateLimited,
        StepUpRequired,
        TwoFactorRequired,
    )
    from .hookspecs import hookimpl
    from .plugins import PluginLoadError, PluginWarning, available_vendors, get_auth, get_vendor
    from .stores import FileTokenStore, MemoryTokenStore, TokenStore
    from .tokens import Token
    from .vendor import Option, Vendor
    from .vendors.teamup import TeamUpAuth
    from .vendors.up2money import Up2MoneyAuth
