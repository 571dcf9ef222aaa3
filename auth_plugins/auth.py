"""The auth object users hold: one per vendor and user, for requests (and httpx).

:class:`PasswordAuth` ties the core together (settings, scope, renewal) and
hands each request to an adapter: ``__call__`` is requests' auth protocol
(:mod:`auth_plugins.adapters.requests`). It holds no connection of its own:
logins go through the connection of the request they serve.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import TYPE_CHECKING, Any, Optional

from .adapters.httpx_view import adapter, httpx_class, new_instance
from .core.errors import ConfigError, TwoFactorRequired
from .core.messages import Answer
from .core.renewal import Renewal
from .core.scope import Scope
from .core.settings import Settings
from .core.templates import template_names
from .core.tokens import DEFAULT_LEEWAY, Token
from .core.vendor import Vendor
from .stores.base import TokenKey, TokenStore
from .stores.choose import default_store

if TYPE_CHECKING:
    import httpx
    import requests

    from .core.exchange import Send

    # Type checkers see what isinstance() says once httpx is imported (see
    # PasswordAuth.__class__), so httpx.Client(auth=TeamUpAuth(...)) type-checks.
    _AuthBase = httpx.Auth
else:
    _AuthBase = object

logger = logging.getLogger("auth_plugins")

#: Seconds a whole login (all its calls together) may take before it fails with LoginError.
DEFAULT_TIMEOUT = 30.0


class PasswordAuth(_AuthBase):
    """An auth for any vendor described by a :class:`~auth_plugins.core.vendor.Vendor`.

    ``username`` and ``password`` (and every vendor option) fall back to their
    environment variables when not given. ``password`` (like any secret option)
    may also be a callable returning it, called once, when a login first needs
    it. Construction does no network I/O; the first request logs in, through
    that request's own connection settings.

    :param token_store: where tokens live; default: the store
        ``AUTH_PLUGINS_TOKEN_STORE`` names (``redis://...``), else this object's
        memory. Pass a shared :class:`~auth_plugins.MemoryTokenStore`, a
        :class:`~auth_plugins.FileTokenStore` or a ``RedisTokenStore`` to share
        one login (and refused logins) between auths, processes or machines.
    :param timeout: seconds a whole login (every call in it) may take; each
        call also keeps to the caller's own ``timeout=``.
    :param leeway: renew a token this many seconds before it expires.
    :param idle_timeout: sliding-window vendors: seconds a token lives after its
        last use (default: the vendor's).
    :param allowed_hosts: hosts (``"api.example.com"``) or origins
        (``"https://api.example.com:8443"``) that get the token besides the base
        URL's origin. Requests to any other host go out without it.
    :param session: a ``requests.Session`` to log in through, instead of the
        connection of the request being served (never closed by this auth).
    """

    # httpx reads these only in ``Auth``'s own flows, which ours replace; False is
    # also the truth: a streamed upload or download is not read into memory.
    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        vendor: Vendor,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        token_store: Optional[TokenStore] = None,
        timeout: float = DEFAULT_TIMEOUT,
        leeway: float = DEFAULT_LEEWAY,
        idle_timeout: Optional[float] = None,
        allowed_hosts: Iterable[str] = (),
        session: Optional[requests.Session] = None,
        **options: Any,
    ) -> None:
        self.vendor = vendor
        settings = Settings(vendor, {"username": username, "password": password, **options})
        self.base_url = settings.base_url
        self._scope = Scope(vendor, self.base_url, allowed_hosts)
        idle = vendor.idle_timeout if idle_timeout is None else idle_timeout
        # Without a store: the one AUTH_PLUGINS_TOKEN_STORE names (a fleet's
        # Redis), else a memory store of this auth's own.
        #: Auth objects with the same credentials share one login by default.
        self._shared_store = token_store is None
        self.token_store: TokenStore = (
            token_store if token_store is not None else default_store(settings.sharing_key())
        )
        self._renewal = Renewal(
            vendor,
            settings,
            self.token_store,
            leeway=max(float(leeway), 0.0),
            timeout=_positive(vendor, "timeout", timeout),
            idle_timeout=_positive(vendor, "idle_timeout", idle) if idle is not None else None,
            two_factor=self._two_factor,
        )
        self.session = session
        #: The headers for one token, kept so that each request does not fill templates.
        self._token_headers: tuple[str, dict[str, str]] = ("", {})
        #: The connection (requests adapter, send settings) of the last answer from the
        #: API: renewals and calls made outside a request (get_token(), two-factor,
        #: step-up) go out the way the caller's own requests do.
        self._connection: Optional[tuple[Any, dict[str, Any]]] = None

    # -- public ---------------------------------------------------------------

    @property
    def username(self) -> str:
        """The user name (or e-mail) this auth logs in as."""
        return self._renewal.settings.username

    @property
    def key(self) -> TokenKey:
        """What this auth's token is stored under: vendor, base URL, user name."""
        return self._renewal.key

    @property
    def token(self) -> Optional[Token]:
        """The token in use, ``None`` before the first login."""
        return self._renewal.token

    @property
    def timeout(self) -> float:
        """Seconds a whole login may take."""
        return self._renewal.timeout

    @property
    def leeway(self) -> float:
        """Seconds before expiry at which a token is renewed."""
        return self._renewal.leeway

    @property
    def idle_timeout(self) -> Optional[float]:
        """The sliding window of the vendor's tokens, if it has one."""
        return self._renewal.idle_timeout

    def get_token(self, client: Optional[httpx.Client] = None) -> Token:
        """A token good for now, logging in (or refreshing) when needed.

        ``client``: an ``httpx.Client`` to log in through (else requests, as for
        the other calls made outside a request).
        """
        return self._renewal.current() or self._renewal.renew(
            self._renewal.token, self._send(client)
        )

    async def aget_token(self, client: httpx.AsyncClient) -> Token:
        """:meth:`get_token` for async code: logs in through ``client``, off the event loop."""
        token: Token = await adapter("httpx_async").get_token(self, client)
        return token

    def applies_to(self, url: Optional[str]) -> bool:
        """Does this auth send its token to ``url``: the vendor API's origin, or an allowed host?"""
        return self._scope.applies_to(url)

    def forget_token(self) -> None:
        """Drop the token (here and in the store): the next request logs in."""
        self._renewal.forget()

    def reset(self, *, password: Optional[str] = None) -> None:
        """Forget the token and any refused login; optionally take a new password.

        After the vendor refused the credentials, no auth sharing the token
        store sends them again until ``reset`` is called (or the password
        changes); a locked account and a rate limit are cleared too.
        """
        if password is not None:
            if not password:
                raise ConfigError(f"{self.vendor.title} reset() needs a non-empty password")
            settings = self._renewal.settings
            settings.set("password", password)
            if self._shared_store:
                # Another password: the tokens of auths with the old one are not ours.
                self.token_store = default_store(settings.sharing_key())
                self._renewal.use_store(self.token_store)
        self._renewal.clear_failure()
        self.forget_token()

    def close(self) -> None:
        """Let go of the caller's connection kept for logins (nothing is closed)."""
        self._connection = None

    def __enter__(self) -> PasswordAuth:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = self._renewal.settings.shown()
        return f"{type(self).__name__}(vendor={self.vendor.name!r}, {shown})"

    @property  # type: ignore[misc]  # read-only on purpose
    def __class__(self) -> type:
        """``type(self)``, or once httpx is imported a subclass of it and ``httpx.Auth``.

        httpx clients take only ``httpx.Auth`` instances; this way ``import
        auth_plugins`` does not import httpx (see :mod:`.adapters.httpx_view`).
        """
        return httpx_class(type(self))

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # object's own reduction names type(self) and pickle then checks that
        # against __class__, which may be the httpx view: name the real class.
        return (new_instance, (type(self),), self.__dict__.copy())

    # -- httpx ----------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's ``Auth.sync_auth_flow``: ``httpx.Client(auth=auth)`` runs it."""
        flow: Generator[httpx.Request, httpx.Response, None] = adapter("httpx").sync_auth_flow(
            self, request
        )
        return flow

    def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """httpx's ``Auth.async_auth_flow``: ``httpx.AsyncClient(auth=auth)`` runs it."""
        flow: AsyncGenerator[httpx.Request, httpx.Response] = adapter(
            "httpx_async"
        ).async_auth_flow(self, request)
        return flow

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's ``Auth.auth_flow``: the sync flow (httpx calls the two above instead)."""
        return self.sync_auth_flow(request)

    # -- requests -------------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        attached: requests.PreparedRequest = adapter("requests").attach(self, request)
        return attached

    def _requests_hook(self, response: requests.Response, **send_kwargs: Any) -> requests.Response:
        answered: requests.Response = adapter("requests").on_response(self, response, **send_kwargs)
        return answered

    # -- what the adapters share ------------------------------------------------

    def _headers_for(self, token: Token) -> dict[str, str]:
        # Filled once per token, not per request: this is the hot path. The pair
        # is replaced whole, so a thread never sees one token's headers under another's.
        filled_for, headers = self._token_headers
        if filled_for != token.access_token:
            # Ask only for what the headers name: a password prompt must not
            # run when a stored token needs no login.
            needed = template_names(self.vendor.api_headers)
            values = self._renewal.settings.values(needed)
            headers = self.vendor.header_values(values, token)
            self._token_headers = (token.access_token, headers)
        return headers

    def _refused(self, answer: Answer, carried: Optional[Token]) -> bool:
        """Does ``answer`` call for a (new) token? Any error to a request sent without one does."""
        if carried is None:
            return answer.status >= 400
        if answer.status in self.vendor.relogin_statuses:
            return True
        hook = self.vendor.token_rejected_hook
        return hook is not None and hook(answer)

    def _sender(self, *, fallback: bool = True) -> Optional[Send]:
        """How a login goes out: ``session=``, else the caller's last connection.

        With neither, a fresh session per call (``fallback``), or ``None``.
        """
        send = adapter("requests_send")
        if self.session is not None:
            return send.session_sender(self.session)  # type: ignore[no-any-return]
        if self._connection is not None:
            return send.adapter_sender(*self._connection)  # type: ignore[no-any-return]
        return send.fresh_session_sender() if fallback else None

    def _send(self, client: Optional[httpx.Client] = None) -> Send:
        if client is not None:
            sender: Send = adapter("httpx_login").client_sender(client)
            return sender
        send = self._sender()
        assert send is not None
        return send

    def _vendor_flow(
        self, what: str, path: str, payload: Any, headers: Optional[dict[str, str]]
    ) -> Generator[Any, Any, Any]:
        from .core.exchange import Deadline, vendor_call  # loaded by logins only (issue 15)

        return vendor_call(
            self.vendor,
            self._renewal.settings,
            what,
            path,
            payload,
            headers or {},
            Deadline(self.timeout),
        )

    def _vendor_call(
        self,
        what: str,
        path: str,
        payload: Any,
        headers: Optional[dict[str, str]] = None,
        client: Optional[httpx.Client] = None,
    ) -> Any:
        """One of the vendor's extra calls (two-factor, step-up), outside any request."""
        from .core.exchange import drive

        return drive(self._vendor_flow(what, path, payload, headers), self._send(client))

    async def _avendor_call(
        self,
        client: httpx.AsyncClient,
        what: str,
        path: str,
        payload: Any,
        headers: Optional[dict[str, str]] = None,
    ) -> Any:
        """:meth:`_vendor_call` through an ``httpx.AsyncClient``."""
        flow = self._vendor_flow(what, path, payload, headers)
        return await adapter("httpx_async").drive(flow, client)

    def _two_factor(self, error: TwoFactorRequired) -> bool:
        """A login wants a second factor: True once it is done (vendors override)."""
        return False


def _positive(vendor: Vendor, name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not 0 < number < float("inf"):
        raise ConfigError(f"{vendor.title} auth: {name}= must be a positive number of seconds")
    return number
