"""Text from servers and users made fit to show: one line, clipped, secrets hidden.

Kept apart from :mod:`.answers` (which reads a login's answer) because the
settings, the secret sources and the vendors quote text on every run, while
answers are read only when a login happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .vendor import Vendor

#: How much of an unexpected answer an error message quotes.
QUOTE_LIMIT = 200


def secret_values(vendor: Vendor, values: Mapping[str, Any]) -> list[str]:
    """The values of secret options, to be kept out of messages."""
    secret_names = {option.name for option in vendor.all_options() if option.secret}
    secret_names |= {"refresh_token", "verification_key"}
    return [v for k, v in values.items() if k in secret_names and isinstance(v, str) and v]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``.

    Longest first, so that a secret containing another is hidden whole; each also
    as JSON writes it (a server echoing the login body shows ``\\u00e4`` for ``ä``).
    """
    forms = {form for secret in secrets if secret for form in _written_forms(secret)}
    for secret in sorted(forms, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def _written_forms(secret: str) -> set[str]:
    """``secret`` as it is, and as a JSON string body carries it (escaped)."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A vendor's text made fit for a one-line message: printable, spaced once, clipped.

    Redact before quoting: clipping first could leave half a secret behind.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 4])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
