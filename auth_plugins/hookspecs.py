"""The hooks a vendor plugin implements.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the ``auth_plugins`` entry-point group::

    from auth_plugins import Vendor, hookimpl

    ACME = Vendor(name="acme", ...)

    @hookimpl
    def register_vendors(register):
        register(ACME)

There is one hook. Token stores need none: any object with the
:class:`~auth_plugins.stores.TokenStore` methods can be passed as
``token_store=``, and nothing picks a store by name that a plugin could add to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

import pluggy

if TYPE_CHECKING:
    from .auth import PasswordAuth
    from .vendor import Vendor

__all__ = ["PROJECT_NAME", "Register", "hookimpl", "hookspec", "register_vendors"]

#: pluggy's project name: also the entry-point group plugins are found under.
PROJECT_NAME = "auth_plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: The marker for a plugin's hook functions: ``@auth_plugins.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Register(Protocol):
    """The ``register`` callback :func:`register_vendors` receives (for type hints)."""

    def __call__(self, vendor: Vendor, auth_class: Optional[type[PasswordAuth]] = None) -> None:
        """Add ``vendor``; ``auth_class`` builds its auth instead of the generic engine."""


@hookspec
def register_vendors(register: Register) -> None:
    """Register vendors by calling ``register(vendor)`` once for each.

    ``register(vendor, auth_class=Cls)`` uses a subclass of
    :class:`~auth_plugins.auth.PasswordAuth` (built as ``Cls(**options)``)
    for a vendor that needs more than the generic engine, such as extra
    methods for a two-factor flow.

    A plugin's registrations count only if the hook returns normally: one that
    raises loses all its vendors (with a warning) and no one else's. The first
    registration of a name wins, and the built-in vendors come first.
    """
