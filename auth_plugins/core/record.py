"""Value classes declared like dataclasses, without code generated at import.

``@dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__`` and
frozen ``__setattr__`` as source text and compiles it when the module is
imported. On the path ``http -A teamup`` takes with a cached token that was
most of what auth-plugins added to HTTPie's start-up: the 28-field
:class:`~auth_plugins.core.vendor.Vendor` alone cost more than reading the
token (issue 15). A :class:`Record` gets the same constructor (positional or
keyword, defaults, ``field(default_factory=...)``, ``__post_init__``),
equality, hashing, ``repr``, pattern matching and immutability from this one
shared implementation, and type checkers treat it as a dataclass (PEP 681).

Declare fields as class annotations; ``class Token(Record, frozen=False)``
allows assignment (subclasses inherit the choice). ``dataclasses.replace``,
``fields``, ``asdict`` and ``is_dataclass`` work on records, and ``@dataclass``
on a subclass of one (:mod:`.record_dataclasses`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        """A marker for type checkers only (``typing`` has it from Python 3.11)."""
        return lambda cls: cls


T = TypeVar("T")

_NO_DEFAULT = object()


class Factory:
    """A field default made fresh for each instance (a dict, a clock reading)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class DataclassView:
    """A class attribute made for each class on first use, then kept.

    The makers live in :mod:`.record_dataclasses`, imported only then.
    """

    def __init__(self, what: str) -> None:
        self.what = what

    def __get__(self, instance: object, owner: type[Record]) -> Any:
        kept = f"_described_{self.what}"
        found: Optional[Any] = owner.__dict__.get(kept)
        if found is None:  # kept per class: a subclass has fields of its own
            from .record_dataclasses import MAKERS

            found = MAKERS[self.what](owner)
            type.__setattr__(owner, kept, found)
        return found


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is ``default_factory()``, called for each new record."""
    return Factory(default_factory)  # type: ignore[return-value]


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of value classes: fields from annotations, equal when fields are equal."""

    #: Field names in declaration order (base classes' first), their defaults and types.
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _types: ClassVar[dict[str, Any]] = {}
    _frozen: ClassVar[bool] = True
    #: Refuse attributes that are not fields too (a class declaring fields, as a
    #: frozen dataclass does; a plain subclass may keep attributes of its own).
    _strict: ClassVar[bool] = True
    __dataclass_fields__: ClassVar[Any] = DataclassView("fields")
    __dataclass_params__: ClassVar[Any] = DataclassView("params")
    __signature__: ClassVar[Any] = DataclassView("signature")

    def __init_subclass__(cls, frozen: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict.fromkeys(cls._fields)  # an ordered set
        defaults, types = dict(cls._defaults), dict(cls._types)
        # From Python 3.10 a class's __annotations__ are its own; 3.9 may hand a
        # base's down to a subclass that declares none.
        own = "__annotations__" in cls.__dict__ or sys.version_info >= (3, 10)
        declared = False
        for name, annotation in (cls.__annotations__ if own else {}).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            declared = True
            fields[name] = None
            types[name] = annotation
            value = cls.__dict__.get(name, _NO_DEFAULT)
            if value is _NO_DEFAULT:
                defaults.pop(name, None)
                continue
            defaults[name] = value
            if isinstance(value, Factory):
                delattr(cls, name)  # instances always hold their own value
        cls._fields, cls._defaults, cls._types = tuple(fields), defaults, types
        cls._frozen = cls._frozen if frozen is None else frozen
        cls._strict = declared
        type.__setattr__(cls, "__match_args__", cls._fields)  # mypy makes its own
        if "__hash__" not in cls.__dict__:  # as a dataclass: hashable only if frozen
            cls.__hash__ = Record._field_hash if cls._frozen else None  # type: ignore[assignment]

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
        missing = []
        for name in names:
            if name in values:
                state[name] = values[name]
                continue
            default = cls._defaults.get(name, _NO_DEFAULT)
            if default is _NO_DEFAULT:
                missing.append(repr(name))
            else:
                state[name] = default.make() if isinstance(default, Factory) else default
        if missing:
            raise TypeError(f"{cls.__name__}() missing required arguments: {', '.join(missing)}")
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

    if not TYPE_CHECKING:  # type checkers know frozen fields; a __setattr__ would hide typos

        def __setattr__(self, name: str, value: Any) -> None:
            if self._frozen and (self._strict or name in self._fields):
                raise _frozen_error(self, f"cannot assign to field {name!r}")
            object.__setattr__(self, name, value)

        def __delattr__(self, name: str) -> None:
            if self._frozen and (self._strict or name in self._fields):
                raise _frozen_error(self, f"cannot delete field {name!r}")
            object.__delattr__(self, name)


def _frozen_error(record: Record, problem: str) -> AttributeError:
    # dataclasses' own error (an AttributeError), so handlers of either catch it.
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(f"{type(record).__name__} is frozen: {problem}")
