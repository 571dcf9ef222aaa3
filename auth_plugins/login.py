"""Reading vendors' answers (from :mod:`auth_plugins.core.answers` and :mod:`~.core.text`).

Vendor plugins written for earlier releases import :func:`json_object` and
:func:`dig` from here; they take an answer or a ``requests.Response`` alike.
"""

from __future__ import annotations

from .core.answers import MAX_TOKEN_LENGTH, dig, error_details, json_object
from .core.text import quote, redact, secret_values

__all__ = [
    "MAX_TOKEN_LENGTH",
    "dig",
    "error_details",
    "json_object",
    "quote",
    "redact",
    "secret_values",
]
