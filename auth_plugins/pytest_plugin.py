"""pytest fixtures for testing code that uses auth-plugins against the local sandbox.

Registered under the ``pytest11`` entry point, so pytest loads this module in every test run
of every project that has auth-plugins installed: it imports nothing but pytest at import
time, and the sandbox (an HTTP server) only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from auth_plugins.sandbox import Sandbox

__all__ = ["auth_plugins_sandbox"]


@pytest.fixture
def auth_plugins_sandbox() -> Iterator[Sandbox]:
    """A started :class:`~auth_plugins.sandbox.Sandbox` on a free loopback port.

    Each test gets a fresh one (new counters, tokens and config), stopped afterwards. Change
    its behaviour through ``sandbox.teamup.config`` / ``sandbox.up2money.config``; read base
    URLs from ``sandbox.teamup_url`` and ``sandbox.up2money_url``.
    """
    from auth_plugins.sandbox import Sandbox

    sandbox = Sandbox(host="127.0.0.1", port=0)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
