"""Decoding request bodies: JSON, form-urlencoded and multipart/form-data.

TeamUp's password login documents all three content types, so the sandbox must accept each of
them; up2money takes JSON only.
"""

from __future__ import annotations

import json
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["BodyError", "UnsupportedMediaType", "parse_form_body", "parse_json_object"]


class BodyError(ValueError):
    """The body could not be decoded as the declared (or guessed) type."""


class UnsupportedMediaType(BodyError):
    """The Content-Type is none the endpoint accepts (answered with 415)."""


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object; anything else (bad UTF-8, bad JSON, a list) raises BodyError."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyError(f"JSON parse error: {exc}") from None
    if not isinstance(value, dict):
        raise BodyError("The request body must be a JSON object.")
    return value


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    # The email parser understands MIME multipart; prepending the header turns the body into a
    # message it can split (the stdlib ``cgi`` module is gone from Python 3.13).
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BodyError("Malformed multipart body.")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        try:
            fields[name] = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise BodyError(f"Field {name!r} is not valid text.") from None
    return fields


def parse_form_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """Decode a body sent as JSON, form-urlencoded or multipart, chosen by Content-Type.

    With no Content-Type the body is tried as JSON, then as a form, the way a lenient web
    framework would. An empty body decodes to an empty mapping so that the caller reports
    each missing field rather than a parse error.
    """
    media = _media_type(content_type)
    if not body.strip():
        return {}
    if media == "application/json" or media.endswith("+json"):
        return parse_json_object(body)
    if media == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise BodyError("The form body is not valid UTF-8.") from None
    if media == "multipart/form-data":
        assert content_type is not None  # media is only non-empty with a header
        return _parse_multipart(content_type, body)
    if media == "":
        try:
            return parse_json_object(body)
        except BodyError:
            pass
        try:
            return dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError):
            raise BodyError("The request body could not be decoded.") from None
    raise UnsupportedMediaType(f"Unsupported media type {media!r} in request.")
