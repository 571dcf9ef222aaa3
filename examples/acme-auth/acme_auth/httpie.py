"""``http --auth-type acme``: the HTTPie auth plugin, in one line.

HTTPie imports this module on every run (``http --version`` included), so it
uses only the helper, which loads the vendor when a request first needs it.
"""

from __future__ import annotations

from auth_plugins.httpie_plugin import httpie_auth_plugin

__all__ = ["AcmePlugin"]

AcmePlugin = httpie_auth_plugin(
    "acme",
    "Acme API (example plugin). -a LOGIN[:PASSWORD], or ACME_USERNAME/ACME_PASSWORD; "
    "needs ACME_TENANT. Tokens are kept between runs.",
)
