"""``core.record.Record``: the dataclass stand-in behind Vendor, Option, Token, Call and Answer.

It exists for start-up speed (issue 15), so it must keep every dataclass
behaviour those classes' users rely on: construction, defaults made fresh,
immutability, equality and hashing, copies with changes, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any, Optional

import pytest

from auth_plugins.core.errors import ConfigError
from auth_plugins.core.messages import Answer
from auth_plugins.core.record import Record, field
from auth_plugins.core.tokens import Token
from auth_plugins.core.vendor import Option, Vendor
from auth_plugins.vendors.teamup import TEAMUP


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


class Checked(Record):
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must not be negative")


class Counter(Record, frozen=False):
    count: int = 0
    note: Optional[str] = None


class Labelled(Point):
    label: str = "p"


def test_fields_come_positionally_or_by_keyword_with_defaults() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    assert Point(1, 2) == Point(x=1, y=2) == Point(y=2, x=1)
    assert Point(1, 2, ["a"]).tags == ["a"]


def test_a_default_factory_gives_each_record_its_own_value() -> None:
    first, second = Point(1), Point(2)
    first.tags.append("mine")
    assert second.tags == []
    assert "tags" not in Point.__dict__  # no shared class-level value left behind


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "Point() missing required arguments: 'x'"),
        ((1, 2, [], 4), {}, "Point() takes 3 arguments, 4 given"),
        ((1,), {"z": 3}, "Point() got an unexpected keyword argument 'z'"),
        ((1,), {"x": 2}, "Point() got multiple values for argument 'x'"),
    ],
)
def test_wrong_arguments_are_refused_as_a_dataclass_would(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as refused:
        Point(*args, **kwargs)
    assert str(refused.value) == message


def test_a_subclass_adds_its_fields_after_its_bases() -> None:
    labelled = Labelled(1, 2, ["t"], "here")
    assert Labelled._fields == ("x", "y", "tags", "label")
    assert (labelled.x, labelled.label) == (1, "here")
    assert labelled != Point(1, 2, ["t"])  # another class is never equal


def test_frozen_records_refuse_changes_and_hash_by_value() -> None:
    point = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError, match="Point is frozen: cannot assign"):
        point.x = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="Point is frozen: cannot delete"):
        del point.y
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.extra = 1  # type: ignore[attr-defined]  # a class with fields takes no others
    assert point.x == 1
    assert hash(Option("a", env="A")) == hash(Option("a", env="A"))
    assert len({Option("a"), Option("a"), Option("b")}) == 2


def test_mutable_records_take_changes_and_are_not_hashable() -> None:
    counter = Counter()
    counter.count += 1
    counter.note = "seen"
    assert counter == Counter(1, "seen")
    with pytest.raises(TypeError):
        hash(counter)
    token = Token("abc")
    token.last_used = 5.0
    assert token.last_used == 5.0


def test_post_init_checks_every_new_record_including_copies() -> None:
    assert Checked(3).size == 3
    with pytest.raises(ValueError, match="size must not be negative"):
        Checked(-1)
    with pytest.raises(ValueError, match="size must not be negative"):
        dataclasses.replace(Checked(3), size=-1)
    # A vendor copied under a bad name is refused just as a new one is.
    with pytest.raises(ConfigError, match="name"):
        dataclasses.replace(TEAMUP, name="Not A Name")


def test_replace_copies_with_changes_and_leaves_the_original() -> None:
    white_label = dataclasses.replace(TEAMUP, name="teamup-eu", title="TeamUp EU")
    assert (white_label.name, white_label.title) == ("teamup-eu", "TeamUp EU")
    assert white_label.api_headers == TEAMUP.api_headers
    assert TEAMUP.name == "teamup"
    with pytest.raises(TypeError, match="unexpected keyword argument 'nmae'"):
        dataclasses.replace(TEAMUP, nmae="typo")  # type: ignore[call-arg]


def test_repr_names_the_class_and_each_field() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    # Classes whose fields hold secrets write their own repr.
    token = Token("secret-access-token", refresh_token="secret-refresh")
    assert "secret" not in repr(token)


@pytest.mark.parametrize(
    "record",
    [Point(1, 2, ["a"]), Counter(3, "n"), Option("org", env="ORG"), TEAMUP, Token("t", "r")],
    ids=["frozen", "mutable", "option", "vendor", "token"],
)
def test_records_pickle_and_deep_copy_equal(record: Any) -> None:
    for again in (pickle.loads(pickle.dumps(record)), copy.deepcopy(record), copy.copy(record)):
        assert type(again) is type(record)
        assert again == record


def test_the_dataclasses_functions_work_on_records() -> None:
    """Type checkers call a Record a dataclass: what they accept must run."""
    white_label = dataclasses.replace(TEAMUP, name="teamup-eu")
    assert (white_label.name, white_label.base_url) == ("teamup-eu", TEAMUP.base_url)
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y", "tags"]
    assert dataclasses.asdict(Point(1, 2, ["a"])) == {"x": 1, "y": 2, "tags": ["a"]}
    token = Token("t", issued_at=1.0)
    assert dataclasses.replace(token, last_used=2.0).last_used == 2.0
    with pytest.raises(ConfigError, match="name"):
        dataclasses.replace(TEAMUP, name="Not A Name")  # checked like a new vendor
    # Last: a type checker narrows what is_dataclass was asked about.
    assert dataclasses.is_dataclass(TEAMUP)
    assert dataclasses.is_dataclass(Token)


def test_the_dataclasses_module_sees_which_fields_are_required_and_their_defaults() -> None:
    """What ``@dataclass`` on a subclass and tools reading ``fields()`` build on."""
    x, y, tags = dataclasses.fields(Point)
    assert (x.default, x.default_factory) == (dataclasses.MISSING, dataclasses.MISSING)
    assert (y.default, y.default_factory) == (0, dataclasses.MISSING)
    assert tags.default is dataclasses.MISSING
    assert callable(tags.default_factory)
    assert tags.default_factory() == []
    body = next(f for f in dataclasses.fields(Answer) if f.name == "body")
    assert body.default == b""


def test_a_records_fields_are_described_once_and_kept_as_for_a_dataclass() -> None:
    # A real dataclass hands out the same Field objects every time: they compare equal.
    assert dataclasses.fields(Point) == dataclasses.fields(Point)
    assert dataclasses.fields(TEAMUP) == dataclasses.fields(Vendor)
    # Kept per class: a subclass described later has its own fields, and its base keeps its.
    assert [f.name for f in dataclasses.fields(Labelled)] == ["x", "y", "tags", "label"]
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y", "tags"]


def test_records_that_differ_hash_apart() -> None:
    """Hashed by their fields as a frozen dataclass is: a set or dict of them stays fast."""
    hashes = {hash(Option(f"option_{n}")) for n in range(100)}
    assert len(hashes) == 100


def test_every_missing_argument_is_named_at_once() -> None:
    with pytest.raises(TypeError) as refused:
        Vendor(name="acme")  # type: ignore[call-arg]
    assert str(refused.value) == (
        "Vendor() missing required arguments: 'title', 'base_url', 'login_path', "
        "'login_body', 'env_prefix'"
    )


class MyToken(Token):  # type: ignore[misc]  # mypy wants frozen=False; run time inherits it
    """A plain subclass, as a custom store might return."""


class CachingVendor(Vendor):
    def __post_init__(self) -> None:
        super().__post_init__()
        self._seen = 0  # not a field: a plain subclass may keep its own attributes


def test_subclasses_inherit_mutability_and_may_keep_attributes_of_their_own() -> None:
    token = MyToken("abc")
    token.touch(5.0)
    assert token.last_used == 5.0
    vendor = CachingVendor(**{f.name: getattr(TEAMUP, f.name) for f in dataclasses.fields(TEAMUP)})
    assert vendor._seen == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        vendor.name = "other"  # type: ignore[misc]  # fields stay frozen


def test_a_dataclass_may_extend_a_record() -> None:
    @dataclasses.dataclass(frozen=True)
    class DocumentedVendor(Vendor):
        docs_url: str = ""

    vendor = DocumentedVendor(
        **{f.name: getattr(TEAMUP, f.name) for f in dataclasses.fields(TEAMUP)},
        docs_url="https://example.com/docs",
    )
    assert (vendor.name, vendor.docs_url) == ("teamup", "https://example.com/docs")


def test_a_dataclass_extending_a_record_takes_the_records_fields_by_position() -> None:
    # As a dataclass extending a dataclass does: the base's fields first, positional.
    @dataclasses.dataclass(frozen=True)
    class Weighed(Point):
        unit: str = "kg"

    weighed = Weighed(3, 4, ["a"], "g")
    assert (weighed.x, weighed.y, weighed.tags, weighed.unit) == (3, 4, ["a"], "g")
    assert [f.name for f in dataclasses.fields(weighed)] == ["x", "y", "tags", "unit"]
    assert not any(getattr(f, "kw_only", False) for f in dataclasses.fields(weighed))


def test_a_records_fields_read_as_those_of_the_same_dataclass() -> None:
    """Tools reading ``fields()`` see what a real dataclass declared alike shows them.

    On Python 3.10+ a dataclass's field says ``kw_only=False`` unless asked
    otherwise: a record's says so too (not a different false value).
    """

    @dataclasses.dataclass
    class RealPoint:
        x: int
        y: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)

    shown = ("name", "default", "init", "repr", "hash", "compare", "metadata", "kw_only")

    def described(cls: type) -> list[dict[str, tuple[Any, type]]]:
        return [
            {a: (getattr(f, a), type(getattr(f, a))) for a in shown if hasattr(f, a)}
            for f in dataclasses.fields(cls)
        ]

    assert described(Point) == described(RealPoint)


def test_records_match_by_position_and_show_their_signature() -> None:
    # What `case Option("tenant", env):` matches by (Python 3.10+).
    assert Option.__match_args__ == (
        "name",
        "env",
        "required",
        "secret",
        "default",
        "choices",
        "help",
    )
    assert str(inspect.signature(Point)) == "(x, y=0, tags=<factory>) -> None"
