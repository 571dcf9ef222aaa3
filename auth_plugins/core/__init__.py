"""The core: vendors, the login exchange and renewal, with no HTTP client in it.

Nothing under ``auth_plugins.core`` imports requests, httpx or HTTPie (a test
checks it): the adapters in :mod:`auth_plugins.adapters` drive the exchange
over a client's own connection.
"""
