"""HTTPie auth plugins: ``http --auth-type teamup`` and ``http --auth-type up2money``.

HTTPie imports this module on every run, ``http --version`` included, so it
imports nothing of ours at module level: the vendors, pluggy and the token
store load when the first request needs a token.

Credentials: ``-a USER:PASSWORD``; ``-a USER`` alone (the password comes from
a ``*_PASSWORD_COMMAND``, the environment or the keyring, in the order every
front end shares (:mod:`auth_plugins.core.secrets`), or is asked for at the
terminal; all of it only if a login is needed);
no ``-a``: ``~/.netrc`` for the API host (HTTPie reads it), else the vendor's
environment variables. Tokens are kept between runs in the token cache
(:func:`auth_plugins.stores.token_store_from_env`).

Third-party vendor plugins get an HTTPie auth type with one line::

    AcmePlugin = httpie_auth_plugin("acme", "Acme Corp API")

registered in their ``pyproject.toml`` under ``httpie.plugins.auth.v1``. Any
installed vendor also works through ``--auth-type auth-plugins``, which picks
the vendor whose base URL the request goes to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional

from httpie.plugins import AuthPlugin

if TYPE_CHECKING:
    import requests

    from ..auth import PasswordAuth
    from ..builtin import VendorEntry
    from .httpie_cached import CachedToken

#: What ``-a`` looks like, for messages.
USER_HINT = "-a USER[:PASSWORD]"


class LazyVendorAuth:
    """What HTTPie gets from ``get_auth``: builds the real auth on the first request.

    Building it late keeps argument parsing cheap (``http --help`` loads no
    vendor) and makes a setting error surface while HTTPie sends the request,
    where it prints one ``http: error:`` line, not during argument parsing,
    where it would print a traceback.

    ``vendor`` is a vendor name, or ``None`` to pick the vendor whose base URL
    the first request goes to.
    """

    def __init__(
        self, vendor: Optional[str], username: Optional[str], password: Optional[str]
    ) -> None:
        self.vendor = vendor
        self._username = username or None
        self._password = password or None
        self._auth: Optional[PasswordAuth] = None
        self._entry: Optional[VendorEntry] = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._auth is None and self.vendor and self._attach_cached(request):
            return request
        try:
            if self._auth is None:
                self._auth = self._build(request.url or "")
            if not self._auth.applies_to(request.url):
                # The auth would send the request without a token: say why instead.
                from ..errors import ConfigError

                vendor = self._auth.vendor
                raise ConfigError(
                    f"{request.url} is not {vendor.title}'s API at {self._auth.base_url}, so "
                    f"no token would be sent; call a URL under it, or set "
                    f"{vendor.env_prefix}_BASE_URL to the API you call"
                )
            before = list(request.hooks.get("response", []))
            self._auth(request)
        except Exception as exc:
            self._raise_for_http(exc)
        # The auth re-logs in from a response hook; guard it the same way.
        hooks = request.hooks.get("response", [])
        request.hooks["response"] = [h if h in before else self._guarded(h) for h in hooks]
        return request

    def _attach_cached(self, request: requests.PreparedRequest) -> bool:
        """Attach a cached token's headers without building the auth, if there is one.

        Most runs of ``http -A teamup`` have a good token in the cache: building
        the auth for them would cost more than the rest of the plugin's part of
        HTTPie's start-up (issue 15). The auth is built only if the answer needs
        it (:meth:`_judge_cached`).
        """
        from .httpie_cached import cached_headers

        assert self.vendor is not None
        cached = cached_headers(self.vendor, self._username, request.url or "")
        if cached is None:
            return False
        request.headers.update(cached.headers)

        def judge(response: requests.Response, **send_kwargs: Any) -> requests.Response:
            return self._judge_cached(cached, response, send_kwargs)

        request.hooks.setdefault("response", []).append(judge)
        return True

    def _judge_cached(
        self, cached: CachedToken, response: requests.Response, send_kwargs: dict[str, Any]
    ) -> requests.Response:
        """The answer to a request sent with a cached token, judged as the auth judges one.

        Accepted (the cached path's vendors read no answer of the API): nothing
        to do. Refused (401, 410) or redirected: the auth is built, takes the
        token as the one it sent, and does what it always does: log in again and
        send once more, or keep the headers only on a redirect that stays on the API.
        """
        if not response.is_redirect and response.status_code not in cached.vendor.relogin_statuses:
            return response
        try:
            if self._auth is None:
                self._auth = self._build(response.request.url or "")
                # Only now: after a re-login the auth's token is the new one, which a
                # later hop carries (the cached one is spent).
                self._auth._renewal.token = cached.token
            return self._auth._requests_hook(response, **send_kwargs)
        except Exception as exc:
            self._raise_for_http(exc)

    def _build(self, url: str) -> PasswordAuth:
        from ..builtin import builtin_vendor
        from ..stores import token_store_from_env
        from .terminal import accepts_keyword, command_line_options, terminal_two_factor

        if self.vendor:
            entry = builtin_vendor(self.vendor)
            if entry is None:  # a plugin's vendor: only then the plugin host and pluggy
                from ..plugins import get_vendor

                entry = get_vendor(self.vendor)
        else:
            entry = _vendor_for_url(url)
        self._entry = entry
        options = command_line_options(
            entry.vendor,
            self._username,
            self._password,
            user_hint=USER_HINT,
            password_hint="-a USER:PASSWORD",
        )
        options["token_store"] = token_store_from_env()
        if accepts_keyword(entry.factory, "two_factor_handler"):
            options["two_factor_handler"] = terminal_two_factor
        return entry.factory(**options)

    def _guarded(self, hook: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(response: requests.Response, **kwargs: Any) -> Any:
            try:
                return hook(response, **kwargs)
            except Exception as exc:
                self._raise_for_http(exc)

        return guarded

    def _raise_for_http(self, exc: Exception) -> NoReturn:
        """Re-raise ``exc`` so that HTTPie prints it as one useful line.

        HTTPie appends "while doing a POST request to URL: ..." for an error
        that carries a request; for a login error that would be the login
        call, not the user's URL, so ours drop it. Advice written for Python
        callers becomes advice for ``http`` users.
        """
        from ..errors import AuthPluginError

        if isinstance(exc, AuthPluginError):
            if self._entry is not None:
                from .terminal import command_line_hint

                command_line_hint(exc, self._entry.vendor, USER_HINT)
            raise exc from None
        raise exc

    def __repr__(self) -> str:
        # http --debug prints this: never the password.
        who = self._username or "(user from the environment)"
        return f"<auth-plugins {self.vendor or 'any vendor'} auth for {who}, password=***>"


def _vendor_for_url(url: str) -> VendorEntry:
    """The installed vendor whose base URL (its environment variable, or default) starts ``url``."""
    import os

    from ..errors import ConfigError
    from ..plugins import available_vendors

    bases = []
    for entry in available_vendors().values():
        vendor = entry.vendor
        base = (os.environ.get(f"{vendor.env_prefix}_BASE_URL") or vendor.base_url).rstrip("/")
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return entry
        bases.append(f"{vendor.name} {base}")
    raise ConfigError(
        f"no installed vendor has a base URL that {url} starts with ({'; '.join(bases)}); "
        "use --auth-type VENDOR, or set the vendor's *_BASE_URL"
    )


class _VendorAuthPlugin(AuthPlugin):  # type: ignore[misc]
    """An HTTPie auth type for one vendor (``vendor_name``; empty: chosen by URL)."""

    vendor_name = ""
    # -a is optional: the user name and password may come from the environment
    # or ~/.netrc, and a stored token may need no password at all.
    auth_require = False
    netrc_parse = True
    # HTTPie would ask for the password before it knows whether a stored token
    # will do; the auth asks itself, only when a login is needed.
    prompt_password = False

    def get_auth(
        self, username: Optional[str] = None, password: Optional[str] = None
    ) -> LazyVendorAuth:
        # HTTPie's --session stores raw_auth: keep only the user name there,
        # never the password (an empty string, not None, reads back cleanly).
        self.raw_auth = username or ""
        return LazyVendorAuth(self.vendor_name or None, username, password)


def httpie_auth_plugin(vendor: str, description: str = "") -> type[AuthPlugin]:
    """An HTTPie auth plugin class for a registered vendor: ``--auth-type VENDOR``.

    Register the class under the ``httpie.plugins.auth.v1`` entry-point group.
    """
    return type(
        f"{vendor.title().replace('-', '')}HTTPiePlugin",
        (_VendorAuthPlugin,),
        {
            "__doc__": f"HTTPie ``--auth-type {vendor}``.",
            "name": f"{vendor} password login",
            "auth_type": vendor,
            "vendor_name": vendor,
            "description": description
            or f"log in to {vendor} with a password; {USER_HINT} or environment variables",
        },
    )


TeamUpPlugin = httpie_auth_plugin(
    "teamup",
    "TeamUp API v2 login. -a EMAIL[:PASSWORD], or TEAMUP_USERNAME/TEAMUP_PASSWORD; "
    "needs TEAMUP_DIRECT_AUTH_KEY. Tokens are kept between runs.",
)
Up2MoneyPlugin = httpie_auth_plugin(
    "up2money",
    "up2.money login. -a EMAIL[:TOKENIZED_PASSWORD], or UP2MONEY_EMAIL/UP2MONEY_PASSWORD; "
    "needs UP2MONEY_SECRET. Tokens are kept between runs.",
)


class VendorPlugin(_VendorAuthPlugin):
    """HTTPie ``--auth-type auth-plugins``: any installed vendor, chosen by the request URL."""

    name = "any installed vendor"
    auth_type = "auth-plugins"
    description = (
        "Any installed auth-plugins vendor (see: auth-plugins vendors), chosen by the "
        "request URL's base URL. -a USER[:PASSWORD] or the vendor's environment variables."
    )
