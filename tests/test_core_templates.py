"""JSON and header templates filled from a login's values (core, no I/O)."""

from __future__ import annotations

import pytest

from auth_plugins.core.templates import fill, fill_headers, template_names


def test_a_field_alone_keeps_its_values_type() -> None:
    """``"{n}"`` is the value itself, as JSON sends it: a number stays a number, a flag a
    flag, in mappings and lists alike (text would be "5" and "True")."""
    template = {"n": "{n}", "flag": "{is_on}", "items": ["{n}", "{is_on}"]}
    assert fill(template, {"n": 5, "is_on": True}) == {"n": 5, "flag": True, "items": [5, True]}


def test_text_without_fields_is_sent_as_it_is() -> None:
    assert fill({"grant_type": "password", "scope": "a b", "k": "x"}, {}) == {
        "grant_type": "password",
        "scope": "a b",
        "k": "x",
    }


def test_text_with_fields_is_formatted_and_left_out_when_a_value_is_missing() -> None:
    template = {"auth": "Bearer {token}", "both": "{a}-{b}", "plain": "{a}"}
    assert fill(template, {"token": "t", "a": 1, "b": 2}) == {
        "auth": "Bearer t",
        "both": "1-2",
        "plain": 1,
    }
    assert fill(template, {"a": 1, "b": None}) == {"plain": 1}


def test_values_that_are_not_text_are_kept() -> None:
    assert fill({"n": 3, "f": None, "l": [1, "{a}"]}, {"a": "x"}) == {"n": 3, "l": [1, "x"]}


def test_headers_are_text_and_unset_ones_are_left_out() -> None:
    assert fill_headers({"X-Id": "{n}", "X-Key": "{key}"}, {"n": 7, "key": None}) == {"X-Id": "7"}


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ({"a": "{user.name}", "b": ["{items[0]}", "x"]}, {"user", "items"}),
        # The name ends at the first "." or "[", whichever comes first.
        ("{a.b.c}{d[0][1]}{e[0].f}{g.h[2]}", {"a", "d", "e", "g"}),
        # Digits first make a name still (str.format reads "{0}" alone as positional).
        ("{2fa}{0x}", {"2fa", "0x"}),
        ("{a}{b}", {"a", "b"}),
        ("no fields", set()),
        (42, set()),
    ],
)
def test_the_names_a_template_uses(template: object, names: set[str]) -> None:
    assert template_names(template) == names


@pytest.mark.parametrize(
    "template", ["{}", "a{}b", "{0}", "{12}", "{1.x}", "{[0]}", "{.x}", "{0[1]}"]
)
def test_a_field_without_a_name_is_refused(template: str) -> None:
    """Templates are filled by name: a positional field has no value to take (it would
    fail at the first login, deep inside ``str.format``)."""
    with pytest.raises(ValueError, match="names no value: write a name"):
        template_names({"k": template})


def test_a_name_that_starts_with_digits_is_filled_by_name() -> None:
    assert fill({"code": "{2fa}", "text": "code {2fa}"}, {"2fa": 123456}) == {
        "code": 123456,
        "text": "code 123456",
    }
