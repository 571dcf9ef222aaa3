"""Built-in vendors without the plugin host: what ``http --auth-type teamup`` needs.

:func:`builtin_vendor` imports one vendor's module and nothing of pluggy or
the entry-point scan (:mod:`auth_plugins.plugins` does those, for every
vendor), so an HTTPie run with a cached token pays only for the vendor it uses.
"""

from __future__ import annotations

import functools
import importlib
from typing import Callable, Optional

from .auth import PasswordAuth
from .core.record import Record
from .core.vendor import Vendor

__all__ = ["BUILTIN_PLUGINS", "BUILTIN_SOURCE", "VendorEntry", "builtin_vendor", "register_into"]

BUILTIN_PLUGINS = ("auth_plugins.vendors.teamup", "auth_plugins.vendors.up2money")
BUILTIN_SOURCE = "built-in"


class VendorEntry(Record):
    """A registered vendor, how to build its auth, and where it came from."""

    vendor: Vendor
    #: ``factory(**options)`` builds the vendor's auth.
    factory: Callable[..., PasswordAuth]
    #: ``"built-in"``, or ``"plugin NAME (DISTRIBUTION VERSION)"``.
    source: str


def builtin_vendor(name: str) -> Optional[VendorEntry]:
    """A built-in vendor by name, loading no plugin; ``None`` for any other name.

    Built-in vendors register first and keep their names, so this is what
    :func:`get_vendor` would return, without the entry-point scan: HTTPie's
    ``--auth-type teamup`` pays only for the vendor it uses.
    """
    module_name = f"auth_plugins.vendors.{name.strip().lower()}"
    if module_name not in BUILTIN_PLUGINS:
        return None
    staged: list[VendorEntry] = []
    importlib.import_module(module_name).register_vendors(register_into(staged, BUILTIN_SOURCE))
    return next((entry for entry in staged if entry.vendor.name == name), None)


def register_into(staged: list[VendorEntry], source: str) -> Callable[..., None]:
    """The ``register`` callback a hook receives: it checks and stages each vendor."""

    def register(vendor: Vendor, auth_class: Optional[type[PasswordAuth]] = None) -> None:
        if not isinstance(vendor, Vendor):
            raise TypeError(f"register() takes a Vendor, not {type(vendor).__name__}")
        factory: Callable[..., PasswordAuth]
        if auth_class is None:
            factory = functools.partial(PasswordAuth, vendor)
        elif isinstance(auth_class, type) and issubclass(auth_class, PasswordAuth):
            factory = auth_class
        else:
            raise TypeError(
                f"register({vendor.name!r}, auth_class=...) takes a subclass of "
                f"PasswordAuth, not {auth_class!r}"
            )
        staged.append(VendorEntry(vendor, factory, source))

    return register
