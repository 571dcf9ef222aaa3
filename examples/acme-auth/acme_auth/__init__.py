"""acme-auth: an example auth-plugins vendor plugin for the made-up Acme API.

- :mod:`acme_auth.vendor`: the vendor, declared as data, and its ``register_vendors``
  hook (the ``auth_plugins`` entry point).
- :mod:`acme_auth.httpie`: ``http --auth-type acme`` (the ``httpie.plugins.auth.v1``
  entry point).
- :mod:`acme_auth.sandbox`: a local Acme API for tests and trying it out.

This module imports nothing: HTTPie imports ``acme_auth.httpie``, and with it
this package, on every ``http`` run, so the vendor (and pluggy) load only when
a request needs them.
"""

__version__ = "0.1.0"
