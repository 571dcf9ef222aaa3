"""Where a token may go: the API's origin, the hosts the user allowed, and nowhere else.

One parser (:func:`origin`) decides both "is this URL the API?" and "may a
password go there over plain http?", so the two can never disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Optional
from urllib.parse import urlsplit

from .vendor import Vendor, config_error

#: (scheme, host, port) with the default port filled in.
Origin = tuple[str, str, Optional[int]]

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> Origin:
    """The origin of ``url``: lower-case scheme, host (IDNA, no trailing dot) and port.

    A URL that parsers may read two ways (a user name, a backslash, a control
    character, a percent-encoded host) has no origin here (``("", "", None)``), so it
    never gets a token: fail closed rather than guess which host a client
    library will connect to.
    """
    parts = urlsplit(url)
    if "@" in parts.netloc or "\\" in url.split("?", 1)[0] or not url.isprintable():
        return "", "", None
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return "", "", None
    host = (parts.hostname or "").rstrip(".").lower()
    if "%" in host:  # percent-encoded: clients decode it differently (or not at all)
        return "", "", None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return "", "", None
    return scheme, host, port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (IPv4 and IPv6)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Scope:
    """The origins (and bare host names, any port) whose requests get the token."""

    def __init__(self, vendor: Vendor, base_url: str, allowed_hosts: Iterable[str] = ()) -> None:
        where = f"base_url= or {vendor.env_prefix}_BASE_URL"
        parts = urlsplit(base_url)
        if "@" in parts.netloc or "\\" in base_url or not base_url.isprintable():
            # A user name in the URL (which may hold a password: never quoted), a
            # backslash or a control character, which parsers read in different ways:
            # the host the password goes to must be the one the URL plainly names.
            raise config_error(
                f"{vendor.title} base URL must name a host only (no user name, '@', "
                f"backslash or control character): set {where} to e.g. "
                "https://api.example.com/v1"
            )
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise config_error(
                f"{vendor.title} base URL {base_url!r} is not an http(s) URL; set {where}"
            )
        try:
            parts.port  # noqa: B018 (a bad port raises here, not at the first request)
        except ValueError:
            raise config_error(f"{vendor.title} base URL has a bad port; set {where}") from None
        host = origin(base_url)[1]
        if not host:
            raise config_error(f"{vendor.title} base URL has a host that cannot be read; {where}")
        if parts.scheme == "http" and not is_loopback(host):
            raise config_error(
                f"refusing to send a {vendor.title} password over plain http to "
                f"{parts.hostname}; use an https:// URL in {where} (plain http is allowed "
                "to loopback hosts only)"
            )
        #: The last URL judged and the verdict: a request's hook asks about the URL its
        #: preparation just asked about, so each request parses its URL once.
        self._last: tuple[str, bool] = ("", False)
        self.origins = {origin(base_url)}
        self.hosts: set[str] = set()
        if isinstance(allowed_hosts, str):
            allowed_hosts = [allowed_hosts]
        for entry in allowed_hosts:
            if "://" in entry:
                allowed = origin(entry)
                if allowed[0] == "http" and not is_loopback(allowed[1]):
                    raise config_error(
                        f"refusing to send the {vendor.title} token over plain http to "
                        f"{allowed[1]}; allow an https:// origin (plain http only to loopback)"
                    )
                self.origins.add(allowed)
            else:
                self.hosts.add(entry.strip().rstrip(".").lower())

    def applies_to(self, url: Optional[str]) -> bool:
        """Does a request to ``url`` get the token?"""
        if not url:
            return False
        last_url, verdict = self._last  # one tuple, swapped whole: safe across threads
        if url == last_url:
            return verdict
        found = origin(url)
        # A bare allowed host gets the token over https (plain http: loopback only).
        verdict = found in self.origins or (
            found[1] in self.hosts
            and (found[0] == "https" or (found[0] == "http" and is_loopback(found[1])))
        )
        self._last = (url, verdict)
        return verdict
