"""HTTPie with a cached token: its headers from the token file, without building the auth.

An ``http -A teamup`` run whose token is in the file cache and good for now
needs the token file and the vendor's header templates, nothing else. Building
the auth first would import its settings, renewal, stores, secret sources and
the vendor's auth class: most of what auth-plugins added to HTTPie's start-up
(issue 15). :func:`cached_headers` reads what the auth would read and decides
as it would, with the same functions; whenever a run is not that plain case it
answers ``None`` and the auth is built as usual, which then says what is wrong.
It never raises, warns or writes: the auth does those.

A vendor qualifies when its description loads without its auth class
(:data:`DESCRIPTIONS`), its tokens have no sliding window (every use would be
written back) and no hook of its reads API answers.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ..core.tokens import Token
    from ..core.vendor import Vendor

#: Built-in vendors whose description loads on its own: name -> (module, attribute).
DESCRIPTIONS = {"teamup": ("auth_plugins.vendors.teamup_vendor", "TEAMUP")}


class CachedToken:
    """A stored token good for now, and the headers a request to the API carries with it."""

    # A plain class: a NamedTuple's class costs more to make than reading the token.
    __slots__ = ("headers", "token", "vendor")

    def __init__(self, vendor: Vendor, token: Token, headers: dict[str, str]) -> None:
        self.vendor = vendor
        self.token = token
        self.headers = headers


def cached_headers(vendor_name: str, username: Optional[str], url: str) -> Optional[CachedToken]:
    """The cached token of ``vendor_name``'s user for a request to ``url``, or ``None``.

    ``username`` is the one given on the command line (else the vendor's
    variable, as :func:`.terminal.command_line_options` finds it). ``None``
    when the auth must decide: another store, no file or one it would refuse,
    a token expiring within the auth's leeway, an option or a secret's source
    it would refuse or ask, a base URL it would refuse or a URL it gives no token.
    """
    found = DESCRIPTIONS.get(vendor_name)
    if found is None:
        return None
    from ..stores.token_file import command_line_uses_files

    if not command_line_uses_files():
        return None
    module, attribute = found
    vendor: Vendor = getattr(importlib.import_module(module), attribute)
    if vendor.idle_timeout is not None or vendor.api_response_hook or vendor.token_rejected_hook:
        return None
    try:
        return _read(vendor, username, url)
    except Exception:  # the auth, built next, meets the same problem and says it
        return None


def _read(vendor: Vendor, username: Optional[str], url: str) -> Optional[CachedToken]:
    from ..core.scope import Scope
    from ..core.tokens import DEFAULT_LEEWAY, Token
    from ..core.vendor import check_header_value, header_option_names, named_user
    from ..stores.token_file import cache_folder, read_token_record, token_file_name

    user = named_user(vendor, username)
    if not user or not _secrets_settled(vendor):
        return None
    # Resolved as the auth's settings resolve them; secrets are not needed for
    # a stored token, so each stands in as a callable, as a password not yet
    # asked for does.
    given = {option.name: _not_needed for option in vendor.all_options() if option.secret}
    values = vendor.resolve_options({**given, "username": user})
    for name in header_option_names(vendor) & values.keys():
        check_header_value(vendor, name, values[name])
    base_url = str(values["base_url"]).rstrip("/")
    # The auth's own judge of where a token may go (it refuses a base URL such as
    # plain http to a remote host, whatever a token file says).
    if not Scope(vendor, base_url).applies_to(url):
        return None
    key = (vendor.name, base_url, user)
    token = Token.from_dict(read_token_record(cache_folder() / token_file_name(key), key))
    if token.idle_timeout is not None or token.is_expired(DEFAULT_LEEWAY):
        return None
    return CachedToken(vendor, token, vendor.header_values(values, token))


def _secrets_settled(vendor: Vendor) -> bool:
    """Would the auth's settings take every secret without an error, asking nothing?

    They read each secret's variable, else its ``_COMMAND`` variable (a command
    line checked as the auth is made), else the keyring, else raise for a
    required one (:func:`~auth_plugins.core.secrets.source_for`). Only the plain
    case is this path's: no command variable, and a variable set for each
    required secret but the password (which the auth asks for only to log in).
    """
    for option in vendor.all_options():
        if not option.secret or not option.env:
            continue
        if os.environ.get(f"{option.env}_COMMAND"):
            return False
        if option.required and option.name != "password" and not os.environ.get(option.env):
            return False
    return True


def _not_needed() -> None:
    """A secret's stand-in: reading a stored token asks for none."""
