"""The plugin host: built-in and third-party vendors, loaded once, on first need.

Third-party plugins are found through the ``auth_plugins`` entry-point group.
Each one loads on its own: one that fails becomes a :class:`PluginWarning`
naming it, and the rest keep working (``AUTH_PLUGINS_STRICT=1`` turns the
warning into a :class:`PluginLoadError`, for plugin authors).
``AUTH_PLUGINS_LOAD=a,b`` loads only the named plugins (entry-point or
distribution names); an empty value loads none. The built-in vendors always
load, first, through the same hook.

Unlike pluggy's ``load_setuptools_entrypoints`` (one broken plugin stops the
loop), every step that runs a plugin's code is guarded on its own.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional

import pluggy

from . import hookspecs
from .auth import PasswordAuth
from .builtin import BUILTIN_PLUGINS, BUILTIN_SOURCE, VendorEntry, builtin_vendor, register_into
from .errors import AuthPluginError, ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "LOAD_ENV",
    "STRICT_ENV",
    "PluginLoadError",
    "PluginWarning",
    "VendorEntry",
    "available_vendors",
    "builtin_vendor",
    "get_auth",
    "get_vendor",
    "plugin_manager",
    "reset_for_tests",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
LOAD_ENV = "AUTH_PLUGINS_LOAD"
STRICT_ENV = "AUTH_PLUGINS_STRICT"


class PluginLoadError(AuthPluginError):
    """A plugin could not be used and ``AUTH_PLUGINS_STRICT=1`` is set."""


class PluginWarning(UserWarning):
    """A plugin could not be used; it was skipped and everything else works."""


@dataclass(frozen=True)
class _Loaded:
    manager: pluggy.PluginManager
    #: Read-only: every caller shares it.
    vendors: Mapping[str, VendorEntry]


class _Host:
    """Loads the plugins once per process, whichever thread asks first."""

    def __init__(self) -> None:
        # Re-entrant so that a plugin asking for vendors while it is being
        # loaded gets a clear error instead of a deadlock.
        self._lock = threading.RLock()
        self._loading = False
        self._loaded: Optional[_Loaded] = None

    def loaded(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:  # the common case: no lock once loaded
            return loaded
        with self._lock:
            if self._loaded is None:
                if self._loading:
                    raise PluginLoadError(
                        "a plugin looked up vendors while plugins were still loading "
                        "(at import time or in register_vendors); look them up when a "
                        "request needs them instead"
                    )
                self._loading = True
                try:
                    # Built whole, then published: a strict-mode error half way leaves
                    # nothing half-registered behind, and the next call starts afresh.
                    self._loaded = _load()
                finally:
                    self._loading = False
            return self._loaded


def _load() -> _Loaded:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    sources: dict[str, str] = {}
    for module_name in BUILTIN_PLUGINS:
        # Our own code: a failure here is a bug to see, not a plugin to skip.
        module = importlib.import_module(module_name)
        # Marked here, not where it is written: importing a built-in vendor then
        # needs no pluggy, and `http --auth-type teamup` never imports it.
        hookspecs.hookimpl(module.register_vendors)
        manager.register(module, module_name)
        sources[module_name] = BUILTIN_SOURCE
    from .discovery import selected_entry_points

    for candidate in selected_entry_points(_problem):
        source = f"plugin {candidate.name} ({candidate.origin})"
        if _register_entry_point(manager, candidate.entry_point, source):
            sources[candidate.name] = source
    return _Loaded(manager, MappingProxyType(_collect(manager, sources)))


def _register_entry_point(
    manager: pluggy.PluginManager, entry_point: EntryPoint, source: str
) -> bool:
    try:
        plugin = entry_point.load()
        manager.register(plugin, entry_point.name)
    except (Exception, SystemExit) as exc:  # a plugin can fail in any way; we must not
        _problem(f"{source} failed to load: {_describe(exc)}")
        return False
    callers = manager.get_hookcallers(plugin) or []
    # pluggy accepts hooks it has no spec for, so a misspelt hook would never
    # run; one marked optionalhook (for a newer auth-plugins) is left alone.
    unknown = sorted(
        caller.name
        for caller in callers
        if not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )
    if unknown or len(callers) == 0:
        manager.unregister(plugin)
        if unknown:
            _problem(
                f"{source} implements unknown hook(s) {', '.join(unknown)}; "
                "the hook is register_vendors(register)"
            )
        else:
            _problem(
                f"{source} has no hook: mark its register_vendors(register) function "
                "with @auth_plugins.hookimpl"
            )
        return False
    return True


def _collect(manager: pluggy.PluginManager, sources: dict[str, str]) -> dict[str, VendorEntry]:
    found: dict[str, VendorEntry] = {}
    # Each plugin's hook runs on its own (not through manager.hook, which would
    # stop at the first that raises), in registration order: built-ins first,
    # then plugins by entry-point name, so the first registration of a name wins.
    for impl in manager.hook.register_vendors.get_hookimpls():
        source = sources.get(impl.plugin_name, f"plugin {impl.plugin_name}")
        staged = _run_register_vendors(impl, source)
        for entry in staged:
            name = entry.vendor.name
            if name in found:
                _problem(
                    f"{source} registers vendor {name!r}, which {found[name].source} "
                    f"already registered; keeping the {found[name].source} one"
                )
                continue
            found[name] = entry
    return dict(sorted(found.items()))


def _run_register_vendors(impl: pluggy.HookImpl, source: str) -> list[VendorEntry]:
    """Call one plugin's hook; its vendors, or none if it raised."""
    staged: list[VendorEntry] = []
    register = register_into(staged, source)
    try:
        # pluggy passes only the arguments a hook function declares.
        impl.function(**{name: register for name in impl.argnames})
    except (Exception, SystemExit) as exc:  # as above: isolate the plugin
        _problem(f"{source} failed to register its vendors: {_describe(exc)}")
        return []
    return staged


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _problem(what: str) -> None:
    """Warn about a plugin (it is skipped), or raise under ``AUTH_PLUGINS_STRICT=1``."""
    if _strict():
        raise PluginLoadError(
            what, hint=f"{STRICT_ENV} is set; unset it to skip such a plugin with a warning"
        )
    # Printed by HTTPie and the CLI as it is, so it says whose message it is.
    warnings.warn(
        f"auth-plugins: {what}. Skipped; everything else works. Fix or uninstall the "
        f"plugin, or choose the plugins to load with {LOAD_ENV}=name,name",
        PluginWarning,
        stacklevel=2,
    )


_host = _Host()


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager, with every plugin loaded."""
    return _host.loaded().manager


def available_vendors() -> Mapping[str, VendorEntry]:
    """Every registered vendor by name, sorted, read-only (plugins load on the first call)."""
    return _host.loaded().vendors


def get_vendor(name: str) -> VendorEntry:
    """One registered vendor; :class:`ConfigError` naming the installed ones if unknown."""
    found = available_vendors()
    entry = found.get(name.strip().lower())
    if entry is None:
        raise ConfigError(
            f"no vendor named {name!r}; installed vendors: {', '.join(found) or 'none'} "
            f"(a vendor plugin may be missing, failed to load, or be left out by {LOAD_ENV})"
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
    """Forget loaded plugins so the next call loads them again (tests only).

    Modules already imported stay imported; a plugin that failed to import is
    imported again.
    """
    global _host
    _host = _Host()
