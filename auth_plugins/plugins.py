"""The plugin host: built-in and third-party vendors, loaded once, on first need.

Third-party plugins are found through the ``auth_plugins`` entry-point group.
Each one loads on its own: one that fails becomes a warning naming it, and the
rest keep working (``AUTH_PLUGINS_STRICT=1`` turns the warning into an error,
for plugin authors). ``AUTH_PLUGINS_LOAD=a,b`` loads only the named plugins;
an empty value loads none. The built-in vendors always load.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pluggy

from . import hookspecs
from .auth import PasswordAuth
from .errors import AuthPluginError, ConfigError
from .vendor import Vendor

ENTRY_POINT_GROUP = "auth_plugins"
LOAD_ENV = "AUTH_PLUGINS_LOAD"
STRICT_ENV = "AUTH_PLUGINS_STRICT"
BUILTIN_PLUGINS = ("auth_plugins.vendors.teamup", "auth_plugins.vendors.up2money")


class PluginLoadError(AuthPluginError):
    """A plugin failed to load and ``AUTH_PLUGINS_STRICT=1`` is set."""


@dataclass(frozen=True)
class VendorEntry:
    """A registered vendor, how to build its auth, and where it came from."""

    vendor: Vendor
    factory: Callable[..., PasswordAuth]
    #: "built-in", or the plugin's name and distribution.
    source: str


class _Host:
    """The plugin manager and the vendors it found, made once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vendors: Optional[dict[str, VendorEntry]] = None
        self.manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.manager.add_hookspecs(hookspecs)
        #: Plugin name -> where it came from, for listings.
        self.sources: dict[str, str] = {}

    def vendors(self) -> dict[str, VendorEntry]:
        with self._lock:
            if self._vendors is None:
                for module_name in BUILTIN_PLUGINS:
                    self.manager.register(importlib.import_module(module_name), module_name)
                    self.sources[module_name] = "built-in"
                self._load_entry_points()
                self._vendors = self._collect()
            return self._vendors

    def _load_entry_points(self) -> None:
        wanted = os.environ.get(LOAD_ENV)
        only = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for entry_point in _entry_points():
            if only is not None and entry_point.name not in only:
                continue
            if self.manager.has_plugin(entry_point.name):
                continue
            try:
                self.manager.register(entry_point.load(), entry_point.name)
            except Exception as exc:  # a plugin can fail in any way; it must not take us down
                _plugin_failed(entry_point.name, f"failed to load ({type(exc).__name__}: {exc})")
                continue
            dist = getattr(entry_point, "dist", None)
            origin = f"{dist.name} {dist.version}" if dist is not None else entry_point.value
            self.sources[entry_point.name] = f"plugin {entry_point.name} ({origin})"

    def _collect(self) -> dict[str, VendorEntry]:
        found: dict[str, VendorEntry] = {}
        # Each plugin's hook runs on its own, so one that raises loses only its vendors.
        for impl in self.manager.hook.register_vendors.get_hookimpls():
            source = self.sources.get(impl.plugin_name, f"plugin {impl.plugin_name}")

            def register(
                vendor: Vendor,
                auth_class: Optional[type[PasswordAuth]] = None,
                *,
                _source: str = source,
            ) -> None:
                if not isinstance(vendor, Vendor):
                    raise TypeError(f"register() takes a Vendor, not {type(vendor).__name__}")
                if vendor.name in found:
                    warnings.warn(
                        f"auth-plugins: vendor {vendor.name!r} from {_source} is already "
                        f"registered by {found[vendor.name].source}; keeping the first",
                        stacklevel=2,
                    )
                    return
                factory: Callable[..., PasswordAuth]
                if auth_class is None:

                    def factory(**options: Any) -> PasswordAuth:
                        return PasswordAuth(vendor, **options)
                else:
                    factory = auth_class
                found[vendor.name] = VendorEntry(vendor, factory, _source)

            try:
                impl.function(register=register)
            except Exception as exc:  # as above: isolate the plugin
                _plugin_failed(
                    impl.plugin_name,
                    f"failed to register its vendors ({type(exc).__name__}: {exc})",
                )
        return dict(sorted(found.items()))


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    everything = importlib.metadata.entry_points()
    if hasattr(everything, "select"):  # Python 3.10+
        return list(everything.select(group=ENTRY_POINT_GROUP))
    return list(everything.get(ENTRY_POINT_GROUP, []))  # type: ignore[attr-defined, unused-ignore]


def _plugin_failed(name: str, what: str) -> None:
    message = (
        f"auth-plugins: plugin {name!r} {what}; it is skipped. "
        f"Uninstall or fix it, or leave it out with {LOAD_ENV}"
    )
    if os.environ.get(STRICT_ENV, "").strip() in {"1", "true", "yes"}:
        raise PluginLoadError(message)
    warnings.warn(message, stacklevel=3)


_host: Optional[_Host] = None
_host_lock = threading.Lock()


def _get_host() -> _Host:
    global _host
    with _host_lock:
        if _host is None:
            _host = _Host()
        return _host


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager, with every plugin loaded."""
    host = _get_host()
    host.vendors()
    return host.manager


def available_vendors() -> dict[str, VendorEntry]:
    """Every registered vendor by name (plugins load on the first call)."""
    return _get_host().vendors()


def get_vendor(name: str) -> VendorEntry:
    """One registered vendor; :class:`ConfigError` naming the installed ones if unknown."""
    found = available_vendors()
    entry = found.get(name.strip().lower())
    if entry is None:
        raise ConfigError(
            f"no vendor named {name!r}; installed vendors: {', '.join(found) or 'none'} "
            "(a vendor plugin may be missing or failed to load)"
        )
    return entry


def get_auth(vendor: str, **options: Any) -> PasswordAuth:
    """The auth for a vendor by name: ``get_auth("teamup", username=..., password=...)``.

    Options are the vendor's (see ``auth-plugins vendors``) and the engine's
    (``token_store``, ``timeout``, ``allowed_hosts``...); any not given falls
    back to its environment variable.
    """
    return get_vendor(vendor).factory(**options)


def reset_for_tests() -> None:
    """Forget loaded plugins so the next call loads them again (tests only)."""
    global _host
    with _host_lock:
        _host = None
