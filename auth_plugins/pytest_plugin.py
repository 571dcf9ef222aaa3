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

__all__ = ["auth_plugins_sandbox", "auth_plugins_sandbox_tls"]


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


@pytest.fixture
def auth_plugins_sandbox_tls() -> Iterator[Sandbox]:
    """Like ``auth_plugins_sandbox``, but serving HTTPS (needs ``auth-plugins[sandbox]``).

    Its certificate comes from a CA made for this test: pass ``verify=sandbox.ca_file`` (or
    set ``REQUESTS_CA_BUNDLE``) to trust it. A client certificate is optional:
    ``cert=sandbox.client_cert_file`` sends one, and ``sandbox.received[i].client_cert``
    shows which requests carried it. For a sandbox that requires one, start your own:
    ``Sandbox(tls=True, client_cert_required=True)``.
    """
    from auth_plugins.sandbox import Sandbox

    sandbox = Sandbox(host="127.0.0.1", port=0, tls=True)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
