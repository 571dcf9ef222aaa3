"""JSON and header templates: the ``{name}`` fields they use, and how they are filled."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Optional


def template_names(template: Any) -> set[str]:
    """The ``{name}`` fields a JSON or header template uses."""
    if isinstance(template, Mapping):
        return set().union(*(template_names(item) for item in template.values()))
    if isinstance(template, list):
        return set().union(*(template_names(item) for item in template))
    if isinstance(template, str):
        names = set()
        for _, name, _, _ in string.Formatter().parse(template):
            if name is None:  # text only
                continue
            # "{user.name}" and "{items[0]}" name "user" and "items".
            ends = [i for i in (name.find("."), name.find("[")) if i >= 0]
            first = name[: min(ends)] if ends else name
            if not first or first.isdigit():  # "{}", "{0}", "{[0]}": by name only
                raise ValueError(
                    f"'{{{name}}}' in {template!r} names no value: write a name, as in "
                    "'{username}', or '{{' and '}}' for braces"
                )
            names.add(first)
        return names
    return set()


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill a JSON template: ``"{name}"`` becomes ``values[name]`` (any type).

    A string that mixes text and fields is formatted; one naming a missing or
    ``None`` value becomes ``None``, and a mapping entry that ends up ``None``
    is left out, so optional fields simply disappear.
    """
    if isinstance(template, Mapping):
        filled = {key: fill(item, values) for key, item in template.items()}
        return {key: item for key, item in filled.items() if item is not None}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, str):
        whole = _whole_field(template)
        if whole is not None:
            return values.get(whole)
        if any(values.get(name) is None for name in template_names(template)):
            return None
        return template.format_map(values)
    return template


def _whole_field(template: str) -> Optional[str]:
    """``"{name}"`` -> ``"name"``: a template that is one field (keeps the value's type)."""
    inner = template[1:-1]
    one_field = template[:1] == "{" and template[-1:] == "}" and inner != ""
    return inner if one_field and all(c.isalnum() or c == "_" for c in inner) else None


def fill_headers(template: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """Fill header templates; headers naming an unset value are left out."""
    filled = fill(template, values)
    return {name: str(value) for name, value in filled.items()}
