"""What the ``dataclasses`` module and ``inspect`` look for on a :class:`~.record.Record`.

Type checkers take a Record for a dataclass, so what they accept must run:
``dataclasses.replace`` (a plugin copying a vendor under its own name),
``fields``, ``asdict``, ``@dataclass`` on a subclass, ``inspect.signature``.
These attributes are made when first asked for (:class:`~.record.DataclassView`):
made for every class at import, they would cost the start-up the records save.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from .record import Factory

if TYPE_CHECKING:
    from .record import Record


def _fields(cls: type[Record]) -> dict[str, Any]:
    import dataclasses

    described: dict[str, Any] = {}
    for name in cls._fields:
        default = cls._defaults.get(name, dataclasses.MISSING)
        if isinstance(default, Factory):
            field_ = dataclasses.field(default_factory=default.make)
        else:
            field_ = dataclasses.field(default=default)
        field_.name, field_.type = name, cls._types[name]
        if hasattr(field_, "kw_only"):  # Python 3.10+: unset reads as keyword-only
            field_.kw_only = False
        # dataclasses marks a real field with a private sentinel; without it
        # fields() would list nothing.
        field_._field_type = getattr(dataclasses, "_FIELD", None)
        described[name] = field_
    return described


@functools.lru_cache(maxsize=2)
def _params_of(frozen: bool) -> Any:
    # The parameters object of a real dataclass declared alike: its layout is
    # private and differs between Python versions.
    import dataclasses

    class Alike:
        pass

    return dataclasses.dataclass(frozen=frozen)(Alike).__dataclass_params__  # type: ignore[attr-defined]


def _params(cls: type[Record]) -> Any:
    return _params_of(cls._frozen)


def _signature(cls: type[Record]) -> Any:
    import inspect

    parameters = []
    for name in cls._fields:
        default = cls._defaults.get(name, inspect.Parameter.empty)
        if isinstance(default, Factory):
            default = _FACTORY
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        )
    return inspect.Signature(parameters, return_annotation=None)


class _FactoryDefault:
    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _FactoryDefault()
#: What :class:`~.record.DataclassView` makes, by the name it was given.
MAKERS: dict[str, Callable[[Any], Any]] = {
    "fields": _fields,
    "params": _params,
    "signature": _signature,
}
