"""HTTPie's entry point (the plugin lives in :mod:`auth_plugins.adapters.httpie`).

HTTPie imports this module on every run: it imports only the adapter, which
imports only HTTPie's plugin base class.
"""

from __future__ import annotations

from .adapters.httpie import (
    LazyVendorAuth,
    TeamUpPlugin,
    Up2MoneyPlugin,
    VendorPlugin,
    httpie_auth_plugin,
)

__all__ = ["LazyVendorAuth", "TeamUpPlugin", "Up2MoneyPlugin", "VendorPlugin", "httpie_auth_plugin"]
