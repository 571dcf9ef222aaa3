"""The ``/_sandbox/...`` control endpoints, for a sandbox run from the command line.

They live outside both vendors' prefixes so a client under test can never reach them by
accident through a vendor base URL.
"""

from __future__ import annotations

from typing import Any, Protocol

from .bodies import BodyError, parse_json_object
from .messages import Request, Response, json_response

__all__ = ["CONTROL_PREFIX", "ControlTarget", "handle_control"]

CONTROL_PREFIX = "/_sandbox"


class ControlTarget(Protocol):
    """What the control endpoints act on (the :class:`~.server.Sandbox`)."""

    def stats(self) -> dict[str, Any]:
        """Return counters per vendor and user."""

    def revoke_tokens(self, vendor: str | None = None, user: str | None = None) -> int:
        """Revoke tokens; return how many."""

    def expire_tokens(self, vendor: str | None = None, user: str | None = None) -> int:
        """Expire tokens; return how many."""

    def reset(self) -> None:
        """Put every vendor's state back to new."""


def _selection(request: Request) -> tuple[str | None, str | None] | Response:
    """Read the optional ``{"vendor", "user"}`` body of revoke and expire."""
    if not request.body.strip():
        return None, None
    try:
        data = parse_json_object(request.body)
    except BodyError as exc:
        return json_response(400, {"message": str(exc)})
    vendor, user = data.get("vendor"), data.get("user")
    if vendor is not None and not isinstance(vendor, str):
        return json_response(400, {"message": "vendor must be a string"})
    if user is not None and not isinstance(user, str):
        return json_response(400, {"message": "user must be a string"})
    return vendor, user


def handle_control(target: ControlTarget, request: Request) -> Response:
    """Answer ``GET /_sandbox/stats``, ``POST /_sandbox/revoke|expire|reset``."""
    action = request.path[len(CONTROL_PREFIX) :]
    methods = {"/stats": "GET", "/revoke": "POST", "/expire": "POST", "/reset": "POST"}
    if action not in methods:
        return json_response(404, {"message": "Not found."})
    if request.method != methods[action]:
        return json_response(405, {"message": "Method not allowed."}, {"Allow": methods[action]})
    if action == "/stats":
        return json_response(200, target.stats())
    if action == "/reset":
        target.reset()
        return json_response(200, {"reset": True})
    selection = _selection(request)
    if isinstance(selection, Response):
        return selection
    vendor, user = selection
    try:
        if action == "/revoke":
            return json_response(200, {"revoked": target.revoke_tokens(vendor, user)})
        return json_response(200, {"expired": target.expire_tokens(vendor, user)})
    except ValueError as exc:  # an unknown vendor name
        return json_response(400, {"message": str(exc)})
