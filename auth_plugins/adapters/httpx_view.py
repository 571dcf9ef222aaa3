"""How an auth is an ``httpx.Auth`` without ``import auth_plugins`` importing httpx.

httpx's clients take only ``isinstance(auth, httpx.Auth)`` objects (any other
callable is wrapped as a function and loses its response handling), and
``isinstance`` consults ``__class__``. So ``PasswordAuth.__class__`` answers
:func:`httpx_class`: once httpx is imported (by whoever builds a client), a
subclass of the auth's own class and ``httpx.Auth``, made once per class. No
instance ever has that class: ``type(auth)`` is unchanged, and so are pickling
and copying (:func:`new_instance`). This module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TypeVar

from ..core.errors import ConfigError

T = TypeVar("T")

#: Auth class -> the same class with ``httpx.Auth`` mixed in.
_CLASSES: dict[type, type] = {}


def httpx_class(cls: type) -> type:
    """``cls`` as seen once httpx is imported: a subclass of it and ``httpx.Auth``; else ``cls``."""
    known = _CLASSES.get(cls)
    if known is not None:
        return known
    auth_base = getattr(sys.modules.get("httpx"), "Auth", None)
    if not isinstance(auth_base, type):  # httpx not imported, still importing, or blocked
        return cls
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    return _CLASSES.setdefault(cls, type(cls.__name__, (cls, auth_base), namespace))


def new_instance(cls: type[T]) -> T:
    """Unpickling: a bare instance of ``cls``; pickle then restores its ``__dict__``."""
    return object.__new__(cls)


def adapter(name: str) -> ModuleType:
    """``auth_plugins.adapters.<name>``, or a ConfigError naming the extra when httpx is missing."""
    loaded = sys.modules.get(f"{__package__}.{name}")
    # Every request asks: skip the import machinery, but not for a module another
    # thread is still importing (import_module waits for it to finish).
    if loaded is not None and not getattr(loaded.__spec__, "_initializing", False):
        return loaded
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError as exc:
        if exc.name not in ("httpx", "httpcore"):
            raise
    raise ConfigError(
        "auth-plugins needs httpx to serve httpx clients: pip install 'auth-plugins[httpx]'"
    )
