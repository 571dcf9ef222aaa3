"""What the core's own tests share: scripted answers, TeamUp settings, a Renewal.

The core does no I/O, so these tests drive its flows with a ``send`` that
answers from a list (:class:`Script`) and keeps what it was sent.
"""

from __future__ import annotations

import json
from typing import Any

from auth_plugins import MemoryTokenStore
from auth_plugins.core.messages import Answer, Call, Headers
from auth_plugins.core.renewal import Renewal
from auth_plugins.core.settings import Settings
from auth_plugins.vendors.teamup import TEAMUP

PASSWORD = "correct-horse-battery"
KEY = "direct-key-12345678"


def ok(payload: Any) -> Answer:
    return Answer(200, Headers({"Content-Type": "application/json"}), json.dumps(payload).encode())


def teamup_settings(**given: Any) -> Settings:
    values = {"username": "alice", "password": PASSWORD, "direct_auth_key": KEY}
    return Settings(TEAMUP, {**values, "base_url": "https://t.example/api", **given})


class Script:
    """A ``send`` that answers calls from a list and keeps what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list[Call] = []

    def __call__(self, call: Call) -> Answer:
        self.calls.append(call)
        return self.answers.pop(0)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(call.body) for call in self.calls]


def renewal(settings: Settings, store: Any = None, **kwargs: Any) -> Renewal:
    return Renewal(
        settings.vendor,
        settings,
        store if store is not None else MemoryTokenStore(),
        leeway=kwargs.pop("leeway", 30.0),
        timeout=30.0,
        idle_timeout=kwargs.pop("idle_timeout", settings.vendor.idle_timeout),
        **kwargs,
    )
