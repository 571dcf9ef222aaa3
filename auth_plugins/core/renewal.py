"""One key's token life cycle: when to renew, one renewal at a time, the store, failures.

The adapters ask two things of a :class:`Renewal`:

- :meth:`Renewal.current`: a token good for now, from memory or a lock-free look
  in the store (another thread or process may have logged in), or ``None``.
- :meth:`Renewal.renew_flow`: a flow (see :mod:`.exchange`) that takes the
  key's lock, looks in the store again, and only then refreshes or logs in;
  the adapter drives its calls over the caller's own connection.

No I/O happens here but the store's; a held lock spans the flow's calls, so
N threads (or processes, with a file store) make one login between them.
"""

from __future__ import annotations

import copy
import logging
from typing import Callable, Optional

from ..stores.base import TokenKey, TokenStore
from .errors import AccountLocked, InvalidCredentials, LoginError, TwoFactorRequired
from .exchange import Deadline, Flow, Send, drive, password_login, refresh
from .settings import Settings
from .tokens import Token
from .vendor import Vendor

logger = logging.getLogger("auth_plugins")

#: Persistent stores get a token's last-use time again after this share of its idle window.
TOUCH_SAVE_SHARE = 0.1

#: ``handler(error) -> bool``: finish a two-factor login (True: log in again).
TwoFactorHandler = Callable[[TwoFactorRequired], bool]


class Renewal:
    """The token of one (vendor, base URL, user) and how it is kept good."""

    def __init__(
        self,
        vendor: Vendor,
        settings: Settings,
        store: TokenStore,
        *,
        leeway: float,
        timeout: float,
        idle_timeout: Optional[float],
        two_factor: Optional[TwoFactorHandler] = None,
    ) -> None:
        self.vendor = vendor
        self.settings = settings
        self.store = store
        self.key = TokenKey(vendor.name, settings.base_url, settings.username)
        self.leeway = leeway
        #: Seconds a whole login (every call in it) may take.
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.two_factor = two_factor
        #: The token in use; replaced whole, never emptied while a renewal runs.
        self.token: Optional[Token] = None
        #: InvalidCredentials / AccountLocked from the last login: not retried until reset().
        self.failure: Optional[LoginError] = None

    def current(self, now: Optional[float] = None) -> Optional[Token]:
        """A token good for now without any login, or ``None``."""
        token = self.token
        if token is not None and not token.is_expired(self.leeway, now):
            return token
        if self.failure is not None:
            return None
        # A look without the lock: when another thread or process (an earlier
        # HTTPie run) already has a good token, that is all it takes. Stores
        # replace tokens whole, so this read sees the old token or the new one.
        stored = self.store.load(self.key)
        if self._good_instead_of(stored, token, now):
            self.token = stored
            return stored
        return None

    def renew(self, stale: Optional[Token], send: Send, *, rejected: bool = False) -> Token:
        """:meth:`renew_flow` driven by ``send``."""
        return drive(self.renew_flow(stale, rejected=rejected), send)

    def renew_flow(self, stale: Optional[Token], *, rejected: bool = False) -> Flow[Token]:
        """A good token: one another worker just got, a refreshed one, or a login.

        ``stale`` is the token that expired or was refused (``None``: whatever
        is stored, if still good); ``rejected`` says the API refused it.
        """
        with self.store.lock(self.key):
            if self.failure is not None:
                raise copy.copy(self.failure)
            stored = self.store.load(self.key)
            if self._good_instead_of(stored, stale):
                assert stored is not None
                self.token = stored
                return stored
            token = yield from self._new_token(stale or stored, rejected)
            self.store.save(self.key, token)
            # Swapped in whole: other threads see the old token or the new one, never none.
            self.token = token
            return token

    def note_use(self, token: Token, sent_at: float) -> None:
        """A call with ``token`` was answered: sliding-window tokens live on from ``sent_at``."""
        if token.idle_timeout is None:
            return
        saved_use = token.last_used or token.issued_at
        token.touch(sent_at)
        # Let other processes see the use too, but do not write the store per request.
        if self.store.persistent and sent_at - saved_use > token.idle_timeout * TOUCH_SAVE_SHARE:
            with self.store.lock(self.key):
                stored = self.store.load(self.key)
                if stored is not None and stored.access_token == token.access_token:
                    stored.touch(sent_at)
                    self.store.save(self.key, stored)

    def forget(self) -> None:
        """Drop the token here and in the store: the next request logs in."""
        with self.store.lock(self.key):
            self.store.delete(self.key)
            self.token = None

    def _good_instead_of(
        self, stored: Optional[Token], stale: Optional[Token], now: Optional[float] = None
    ) -> bool:
        """Is ``stored`` a token to use now in place of ``stale``?"""
        return (
            stored is not None
            and (stale is None or stored.access_token != stale.access_token)
            and not stored.is_expired(self.leeway, now)
        )

    def _new_token(self, previous: Optional[Token], rejected: bool) -> Flow[Token]:
        deadline = Deadline(self.timeout)
        if previous is not None and previous.refresh_token and self.vendor.refresh_path:
            try:
                token = yield from refresh(
                    self.vendor,
                    self.settings,
                    previous.refresh_token,
                    deadline,
                    idle_timeout=self.idle_timeout,
                )
            except LoginError as exc:
                logger.info(
                    "%s: token refresh for %s failed (HTTP %s); logging in with the password",
                    self.vendor.name,
                    self.settings.username,
                    exc.status,
                )
            else:
                logger.info("%s: refreshed the token for %s", self.vendor.name, self.key.username)
                return token
        try:
            token = yield from self._password_login(deadline)
        except (InvalidCredentials, AccountLocked) as exc:
            if isinstance(exc, InvalidCredentials):
                self.settings.explain(exc)  # "the password came from the keyring (...)"
            self.failure = exc
            raise
        why = "token rejected" if rejected else "token expired" if previous else "first request"
        logger.info(
            "%s: logged in as %s (%s); token %s",
            self.vendor.name,
            self.key.username,
            why,
            _life(token),
        )
        return token

    def _password_login(self, deadline: Deadline) -> Flow[Token]:
        login = password_login(self.vendor, self.settings, deadline, idle_timeout=self.idle_timeout)
        try:
            token = yield from login
        except TwoFactorRequired as exc:
            if self.two_factor is None or not self.two_factor(exc):
                raise
            token = yield from password_login(
                self.vendor, self.settings, deadline, idle_timeout=self.idle_timeout
            )
        # Single-use values (TeamUp's verification key) are spent by a login.
        for name in self.vendor.single_use_options:
            self.settings.set(name, None)
        return token


def _life(token: Token) -> str:
    left = token.expires_in()
    return "with no stated expiry" if left is None else f"good for {left:.0f}s"
