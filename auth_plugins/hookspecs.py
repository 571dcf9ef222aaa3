"""The hooks a vendor plugin implements.

A plugin is a module (or object) with functions marked ``@hookimpl``, found
through the ``auth_plugins`` entry-point group::

    from auth_plugins import Vendor, hookimpl

    ACME = Vendor(name="acme", ...)

    @hookimpl
    def register_vendors(register):
        register(ACME)
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("auth_plugins")
hookimpl = pluggy.HookimplMarker("auth_plugins")


@hookspec
def register_vendors(register: Callable[..., Any]) -> None:
    """Register vendors by calling ``register(vendor)`` once for each.

    ``register(vendor, auth_class=Cls)`` uses a subclass of
    :class:`~auth_plugins.auth.PasswordAuth` (built as ``Cls(**options)``)
    for a vendor that needs more than the generic engine, such as extra
    methods for a two-factor flow.
    """
