"""The engine: a requests auth that logs in lazily and keeps a vendor token good.

The flow of one request, top to bottom:

1. ``__call__`` (requests prepares the request): if the URL is the vendor's
   API, take the current token, logging in first when there is none or it is
   about to expire, and attach it as the vendor's headers.
2. requests sends the request.
3. ``_on_response`` (a response hook): when the vendor says the token is no
   longer good (401/410 or the vendor's own signal), renew it once (refresh
   token if there is one, else the password), attach it, and resend the same
   request; the rejected answer goes into ``response.history``.

Per-request state lives on the request itself (its headers say which token it
carried, requests keeps its body position), never in thread-locals: a request
prepared on one thread may be sent on another.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.utils import rewind_body

from . import login
from .errors import AccountLocked, BodyNotReplayable, ConfigError, InvalidCredentials, LoginError
from .stores import MemoryTokenStore, TokenKey, TokenStore
from .tokens import Token
from .vendor import Vendor, template_names

logger = logging.getLogger("auth_plugins")

#: Seconds a login call may take before it fails with LoginError.
DEFAULT_TIMEOUT = 30.0
#: Renew this many seconds before expiry (clamped to a share of the token's life).
DEFAULT_LEEWAY = 30.0
#: Persistent stores get a token's last-use time again after this share of its idle window.
TOUCH_SAVE_SHARE = 0.1

Origin = tuple[str, str, Optional[int]]


class PasswordAuth(AuthBase):
    """A requests auth for any vendor described by a :class:`~auth_plugins.vendor.Vendor`.

    ``username`` and ``password`` (and every vendor option) fall back to their
    environment variables when not given. ``password`` (like any secret option)
    may also be a callable returning it, called once, when a login first needs
    it: a prompt or a keyring look-up. Construction does no network I/O; the
    first request logs in.

    :param token_store: where tokens live; default: this object's memory.
        Pass a shared :class:`~auth_plugins.MemoryTokenStore` or a
        :class:`~auth_plugins.FileTokenStore` to share one login.
    :param timeout: seconds each login call may take.
    :param leeway: renew a token this many seconds before it expires.
    :param idle_timeout: sliding-window vendors: seconds a token lives after its
        last use (default: the vendor's).
    :param allowed_hosts: hosts (``"api.example.com"``) or origins
        (``"https://api.example.com:8443"``) that get the token besides the base
        URL's origin. Requests to any other host go out without it.
    :param session: the ``requests.Session`` used for login calls (default: one
        of its own, closed by :meth:`close`; one you pass is never closed).
    """

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
        given = {"username": username, "password": password, **options}
        self._values = vendor.resolve_options({k: v for k, v in given.items() if v is not None})
        self.base_url = str(self._values["base_url"]).rstrip("/")
        self._values["base_url"] = self.base_url
        self._origins, self._hosts = _allowed_origins(vendor, self.base_url, allowed_hosts)
        self.timeout = _positive(vendor, "timeout", timeout)
        self.leeway = max(float(leeway), 0.0)
        idle = vendor.idle_timeout if idle_timeout is None else idle_timeout
        self.idle_timeout = _positive(vendor, "idle_timeout", idle) if idle is not None else None
        self.token_store: TokenStore = (
            token_store if token_store is not None else MemoryTokenStore()
        )
        self._session = session
        self._owns_session = session is None
        self._token: Optional[Token] = None
        #: The headers for one token, kept so that each request does not fill templates.
        self._token_headers: tuple[str, dict[str, str]] = ("", {})
        #: InvalidCredentials / AccountLocked from the last login: not retried until reset().
        self._failure: Optional[LoginError] = None
        self._session_lock = threading.Lock()

    # -- public ---------------------------------------------------------------

    @property
    def username(self) -> str:
        """The user name (or e-mail) this auth logs in as."""
        return str(self._values["username"])

    @property
    def key(self) -> TokenKey:
        """What this auth's token is stored under: vendor, base URL, user name."""
        return TokenKey(self.vendor.name, self.base_url, self.username)

    @property
    def token(self) -> Optional[Token]:
        """The token in use, ``None`` before the first login."""
        return self._token

    def get_token(self) -> Token:
        """A token good for now, logging in (or refreshing) when needed."""
        return self._usable_token()

    def applies_to(self, url: Optional[str]) -> bool:
        """Does this auth send its token to ``url``: the vendor API's origin, or an allowed host?"""
        if url is None:
            return False
        origin = _origin(url)
        return origin in self._origins or origin[1] in self._hosts

    def forget_token(self) -> None:
        """Drop the token (here and in the store): the next request logs in."""
        with self.token_store.lock(self.key):
            self.token_store.delete(self.key)
            self._token = None

    def reset(self, *, password: Optional[str] = None) -> None:
        """Forget the token and any refused login; optionally take a new password.

        After the vendor refused the credentials, this auth sends them no more
        until ``reset`` is called.
        """
        if password is not None:
            if not password:
                raise ConfigError(f"{self.vendor.title} reset() needs a non-empty password")
            self._values["password"] = password
        self._failure = None
        self.forget_token()

    def close(self) -> None:
        """Close the login session if this auth made it."""
        if self._owns_session and self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> PasswordAuth:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        secret = {option.name for option in self.vendor.all_options() if option.secret}
        shown = [f"vendor={self.vendor.name!r}"]
        for name, value in self._values.items():
            if value is not None:
                shown.append(f"{name}=***" if name in secret else f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- step 1: attach a token -------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self.applies_to(request.url):
            return request
        token = self._usable_token()
        request.headers.update(self._headers_for(token))
        hooks = request.hooks.setdefault("response", [])
        if self._on_response not in hooks:
            hooks.append(self._on_response)
        return request

    def _usable_token(self) -> Token:
        token = self._token
        if token is not None and not token.is_expired(self.leeway):
            return token
        return self._renew(stale=token)

    def _headers_for(self, token: Token) -> dict[str, str]:
        # Filled once per token, not per request: this is the hot path. The pair
        # is replaced whole, so a thread never sees one token's headers under another's.
        filled_for, headers = self._token_headers
        if filled_for != token.access_token:
            # Ask only for what the headers name: a password prompt must not
            # run when a stored token needs no login.
            needed = template_names(self.vendor.api_headers)
            headers = self.vendor.header_values(self._secret_values(needed), token)
            self._token_headers = (token.access_token, headers)
        return headers

    # -- step 3: the answer -------------------------------------------------------

    def _on_response(self, response: requests.Response, **send_kwargs: Any) -> requests.Response:
        request = response.request
        if response.is_redirect:
            self._headers_for_redirect(response)
        if not self.applies_to(request.url):
            return response
        if not self._token_rejected(response):
            return self._accepted(response)
        return self._resend(response, send_kwargs)

    def _accepted(self, response: requests.Response) -> requests.Response:
        """An answer to a token the API took: a use of it, and the vendor's own checks."""
        self._note_use(response)
        if self.vendor.api_response_hook is not None:
            self.vendor.api_response_hook(response)
        return response

    def _token_rejected(self, response: requests.Response) -> bool:
        if response.status_code in self.vendor.relogin_statuses:
            return True
        hook = self.vendor.token_rejected_hook
        return hook is not None and hook(response)

    def _resend(
        self, rejected: requests.Response, send_kwargs: Mapping[str, Any]
    ) -> requests.Response:
        request = rejected.request
        carried = self._token if self._carries(request, self._token) else None
        logger.info(
            "%s: API answered HTTP %s to %s %s; renewing the token and sending it again",
            self.vendor.name,
            rejected.status_code,
            request.method,
            url_path(request.url),
        )
        # Read and release the rejected answer so its connection can be reused.
        _ = rejected.content
        rejected.close()
        token = self._renew(stale=carried, rejected=True)
        # Redirects that follow are built from this request object: give it the
        # new token too, or they would carry the rejected one.
        request.headers.update(self._headers_for(token))
        if not _rewind(request):
            raise BodyNotReplayable(
                f"{self.vendor.title} rejected the token for {request.method} "
                f"{url_path(request.url)} (HTTP {rejected.status_code}); the token is renewed "
                "but this request's body is a stream that cannot be sent twice: send the "
                "request again",
                response=rejected,
            )
        retry = request.copy()
        # Cookies the rejecting answer set belong on the resent request, as a browser would.
        extract_cookies_to_jar(retry._cookies, request, rejected.raw)  # type: ignore[attr-defined,no-untyped-call]
        retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
        assert rejected.connection is not None
        response: requests.Response = rejected.connection.send(retry, **send_kwargs)
        response.history.append(rejected)
        response.request = retry
        if response.is_redirect:
            # requests (and HTTPie) build the next hop from the original request
            # object, not from ``retry``: that is the one to strip or update.
            self._headers_for_redirect(response, request)
        if not self._token_rejected(response):
            return self._accepted(response)
        logger.warning(
            "%s: API still answers HTTP %s to %s %s with a fresh token; not retrying again",
            self.vendor.name,
            response.status_code,
            retry.method,
            url_path(retry.url),
        )
        return response

    def _headers_for_redirect(
        self,
        response: requests.Response,
        request: Optional[requests.PreparedRequest] = None,
    ) -> None:
        """Make the request the next hop is copied from carry our headers only if it stays ours.

        requests strips only ``Authorization`` when a redirect leaves the host;
        headers such as ``x-secret`` would follow to any host. ``request`` is the
        one the hop is copied from when it is not ``response.request`` (a resend).
        """
        target = requests.compat.urljoin(response.url, response.headers.get("location", ""))
        headers = (request if request is not None else response.request).headers
        if self.applies_to(target) and self._token is not None:
            headers.update(self._headers_for(self._token))
        else:
            for name in self.vendor.api_headers:
                headers.pop(name, None)

    def _carries(self, request: requests.PreparedRequest, token: Optional[Token]) -> bool:
        if token is None:
            return False
        return all(request.headers.get(k) == v for k, v in self._headers_for(token).items())

    def _note_use(self, response: requests.Response) -> None:
        """Sliding-window tokens: an answered call counts as a use, from when it was sent."""
        token = self._token
        if (
            token is None
            or token.idle_timeout is None
            or not self._carries(response.request, token)
        ):
            return
        sent_at = time.time() - response.elapsed.total_seconds()
        saved_use = token.last_used or token.issued_at
        token.touch(sent_at)
        # Let the next process see the use too, but do not write a file per request.
        if (
            self.token_store.persistent
            and sent_at - saved_use > token.idle_timeout * TOUCH_SAVE_SHARE
        ):
            with self.token_store.lock(self.key):
                stored = self.token_store.load(self.key)
                if stored is not None and stored.access_token == token.access_token:
                    self.token_store.save(self.key, token)

    # -- renewing ---------------------------------------------------------------

    def _renew(self, stale: Optional[Token], rejected: bool = False) -> Token:
        """A good token: one another thread or process just got, a refreshed one, or a login.

        ``stale`` is the token that expired or was refused (``None``: whatever is
        stored, if still good). Runs under the key's lock, and looks in the
        store again after taking it, so that N threads (or processes) make one
        login between them.
        """
        # First a look without the lock: when another thread or process (an
        # earlier HTTPie run) already has a good token, that is all it takes, and
        # a file store's lock (and its filelock import) is not needed. Stores
        # replace tokens whole, so this read sees the old token or the new one.
        if self._failure is None:
            stored = self.token_store.load(self.key)
            if self._good_instead_of(stored, stale):
                assert stored is not None
                self._token = stored
                return stored
        with self.token_store.lock(self.key):
            if self._failure is not None:
                raise copy.copy(self._failure)
            stored = self.token_store.load(self.key)
            if self._good_instead_of(stored, stale):
                assert stored is not None
                self._token = stored
                return stored
            previous = stale or stored
            token = self._new_token(previous, rejected)
            self.token_store.save(self.key, token)
            # Swapped in whole: other threads see the old token or the new one, never none.
            self._token = token
            return token

    def _good_instead_of(self, stored: Optional[Token], stale: Optional[Token]) -> bool:
        """Is ``stored`` a token to use now in place of ``stale``?"""
        return (
            stored is not None
            and (stale is None or stored.access_token != stale.access_token)
            and not stored.is_expired(self.leeway)
        )

    def _new_token(self, previous: Optional[Token], rejected: bool) -> Token:
        if previous is not None and previous.refresh_token and self.vendor.refresh_path:
            try:
                token = login.refresh(
                    self.vendor,
                    self._login_session(),
                    self._values,
                    previous.refresh_token,
                    timeout=self.timeout,
                    idle_timeout=self.idle_timeout,
                )
            except LoginError as exc:
                logger.info(
                    "%s: token refresh for %s failed (HTTP %s); logging in with the password",
                    self.vendor.name,
                    self.username,
                    exc.status,
                )
            else:
                logger.info("%s: refreshed the token for %s", self.vendor.name, self.username)
                return token
        try:
            token = self._password_login()
        except (InvalidCredentials, AccountLocked) as exc:
            self._failure = exc
            raise
        why = "token rejected" if rejected else "token expired" if previous else "first request"
        logger.info(
            "%s: logged in as %s (%s); token %s",
            self.vendor.name,
            self.username,
            why,
            _life(token),
        )
        return token

    def _password_login(self) -> Token:
        """One password login; subclasses add vendor steps around it."""
        return login.password_login(
            self.vendor,
            self._login_session(),
            self._secret_values(),
            timeout=self.timeout,
            idle_timeout=self.idle_timeout,
        )

    def _secret_values(self, names: Optional[Iterable[str]] = None) -> dict[str, Any]:
        """The option values with any secret given as a callable asked for, once.

        ``names``: ask only for these (the others may stay callables).
        """
        wanted = None if names is None else set(names)
        for name, value in list(self._values.items()):
            if callable(value) and (wanted is None or name in wanted):
                answer = value()
                if not isinstance(answer, str) or not answer:
                    raise ConfigError(f"{self.vendor.title} needs a {name}; none was given")
                self._values[name] = answer
        return self._values

    def _login_session(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session


# -- helpers ----------------------------------------------------------------------


def _rewind(request: requests.PreparedRequest) -> bool:
    """Put the body back at its start; False when it cannot be sent again."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    if isinstance(getattr(request, "_body_position", None), int):
        try:
            rewind_body(request)
        except requests.exceptions.UnrewindableBodyError:
            return False
        return True
    return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _allowed_origins(
    vendor: Vendor, base_url: str, allowed_hosts: Iterable[str]
) -> tuple[set[Origin], set[str]]:
    """The origins (and bare host names, any port) whose requests get the token."""
    parts = urlsplit(base_url)
    where = f"base_url= or {vendor.env_prefix}_BASE_URL"
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"{vendor.title} base URL {base_url!r} is not an http(s) URL; set {where}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing to send a {vendor.title} password over plain http to {parts.hostname}; "
            f"use an https:// URL in {where} (plain http is allowed to loopback hosts only)"
        )
    origins = {_origin(base_url)}
    hosts: set[str] = set()
    if isinstance(allowed_hosts, str):
        allowed_hosts = [allowed_hosts]
    for entry in allowed_hosts:
        if "://" in entry:
            origins.add(_origin(entry))
        else:
            hosts.add(entry.strip().lower())
    return origins, hosts


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive(vendor: Vendor, name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        raise ConfigError(f"{vendor.title} auth: {name}= must be a positive number of seconds")
    return number


def url_path(url: Optional[str]) -> str:
    # Log the path only: query strings can hold secrets of their own.
    return urlsplit(url or "").path or "/"


def _life(token: Token) -> str:
    left = token.expires_in()
    return "with no stated expiry" if left is None else f"good for {left:.0f}s"
