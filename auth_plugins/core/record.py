"""Value classes declared like dataclasses, without code generated at import.

``@dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__`` and
frozen ``__setattr__`` as source text and compiles it when the module is
imported. On the path ``http -A teamup`` takes with a cached token that was
most of what auth-plugins added to HTTPie's start-up: the 28-field
:class:`~auth_plugins.core.vendor.Vendor` alone cost more than reading the
token (issue 15). A :class:`Record` gets the same constructor (positional or
keyword, defaults, ``field(default_factory=...)``, ``__post_init__``),
equality, ``repr`` and immutability from this one shared implementation, and
type checkers treat it as a dataclass (PEP 681).

Declare fields as class annotations; ``class Token(Record, frozen=False)``
allows assignment. ``record.replace(**changes)`` makes a changed copy, and
``dataclasses.replace``, ``fields``, ``asdict`` and ``is_dataclass`` work on
records as on dataclasses.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        """A marker for type checkers only (``typing`` has it from Python 3.11)."""
        return lambda cls: cls


T = TypeVar("T")


class _Factory:
    """A field default made fresh for each instance (a dict, a clock reading)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is ``default_factory()``, called for each new record."""
    return _Factory(default_factory)  # type: ignore[return-value]


_NO_DEFAULT = object()


class _FieldsForDataclasses:
    """``__dataclass_fields__``, made when first asked for.

    Type checkers take a Record for a dataclass, so ``dataclasses.replace``,
    ``fields`` and ``asdict`` must work on one too (a plugin copying a vendor
    under its own name is the common case). They look for this attribute;
    making it for every class at import would cost the start-up saved.
    """

    def __get__(self, instance: object, owner: type[Record]) -> dict[str, Any]:
        described: Optional[dict[str, Any]] = owner.__dict__.get("_described")
        if described is None:  # cached per class: a subclass has fields of its own
            described = _described_fields(owner)
            type.__setattr__(owner, "_described", described)
        return described


def _described_fields(cls: type[Record]) -> dict[str, Any]:
    """The fields as :func:`dataclasses.fields` describes them.

    ``dataclasses`` marks a real field with a private sentinel; without it
    ``fields()`` would list nothing.
    """
    import dataclasses

    described: dict[str, Any] = {}
    for name in cls._fields:
        default = cls._defaults.get(name, _NO_DEFAULT)
        if isinstance(default, _Factory):
            field_ = dataclasses.field(default_factory=default.make)
        elif default is _NO_DEFAULT:
            field_ = dataclasses.field()
        else:
            field_ = dataclasses.field(default=default)
        field_.name, field_.type = name, cls._types[name]
        field_._field_type = getattr(dataclasses, "_FIELD", None)
        described[name] = field_
    return described


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of value classes: fields from annotations, equal when fields are equal."""

    #: Field names in declaration order (base classes' first), and their defaults.
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _frozen: ClassVar[bool] = True
    _types: ClassVar[dict[str, Any]] = {}
    __dataclass_fields__: ClassVar[Any] = _FieldsForDataclasses()

    def __init_subclass__(cls, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields, defaults = list(cls._fields), dict(cls._defaults)
        types = dict(getattr(cls, "_types", {}))
        # From Python 3.10 a class's __annotations__ are its own; 3.9 may hand a
        # base's down to a subclass that declares none.
        own = "__annotations__" in cls.__dict__ or sys.version_info >= (3, 10)
        for name, annotation in (cls.__annotations__ if own else {}).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            if name not in fields:
                fields.append(name)
            types[name] = annotation
            value = cls.__dict__.get(name, _NO_DEFAULT)
            if value is not _NO_DEFAULT:
                defaults[name] = value
                if isinstance(value, _Factory):
                    delattr(cls, name)  # instances always hold their own value
            elif name in defaults:
                del defaults[name]
        cls._fields, cls._defaults, cls._frozen = tuple(fields), defaults, frozen
        cls._types = types
        if "__hash__" not in cls.__dict__:  # as a dataclass: hashable only if frozen
            cls.__hash__ = Record._field_hash if frozen else None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls._fields
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            values[name] = value
        state = self.__dict__
        for name in names:
            if name in values:
                state[name] = values[name]
                continue
            default = cls._defaults.get(name, _NO_DEFAULT)
            if default is _NO_DEFAULT:
                raise TypeError(f"{cls.__name__}() missing required argument {name!r}")
            state[name] = default.make() if isinstance(default, _Factory) else default
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def _field_hash(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is frozen: cannot assign to {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")
        object.__delattr__(self, name)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (checked again, as a new record is)."""
        values = {name: self.__dict__[name] for name in self._fields}
        values.update(changes)
        return type(self)(**values)
