"""One key's token life cycle: when to renew, one renewal at a time, the store, failures.

The adapters ask two things of a :class:`Renewal`:

- :meth:`Renewal.current`: a token good for now, from memory or a lock-free look
  in the store (another thread or process may have logged in), or ``None``.
- :meth:`Renewal.renew_flow`: a flow (see :mod:`.exchange`) that takes the
  key's lock, looks in the store again, and only then refreshes or logs in;
  the adapter drives its calls over the caller's own connection.

No I/O happens here but the store's; a held lock spans the flow's calls, so
N threads (or processes, with a file or Redis store) make one login between
them. Before a login is sent, the store is asked whether a process sharing it
was refused lately (:mod:`.failures`): a wrong password, a locked account and
a rate limit hold the whole fleet back, and no key logs in more than
:data:`~.failures.LOGINS_PER_WINDOW` times a minute.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Callable, Optional

from ..stores.base import Failure, FleetStore, TokenKey, TokenStore, as_fleet_store
from .errors import AuthPluginError, InvalidCredentials, LoginError, TwoFactorRequired
from .settings import Settings
from .tokens import Token
from .vendor import Vendor

if TYPE_CHECKING:
    from .exchange import Deadline, Flow, Send

# The exchange and the failure rules are imported by the methods that log in:
# a process that only uses a stored token (``http -A teamup`` with a cached
# one) never loads them, nor the answer parsing they bring (issue 15).

logger = logging.getLogger("auth_plugins")

#: Persistent stores get a token's last-use time again after this share of its idle window.
TOUCH_SAVE_SHARE = 0.1
#: A shared lock lapses this long after the login's own deadline (room for the store's calls).
LOCK_MARGIN = 2.0

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
        self.key = TokenKey(vendor.name, settings.base_url, settings.username)
        self.leeway = leeway
        #: Seconds a whole login (every call in it) may take.
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.two_factor = two_factor
        #: The token in use; replaced whole, never emptied while a renewal runs.
        self.token: Optional[Token] = None
        #: The token whose last use the store was last told of, and that use.
        self._saved_use: tuple[str, float] = ("", 0.0)
        # Refused logins and login counts go where the tokens go, so that every
        # process sharing the store sees them; a store of the old protocol
        # gets them kept in this process.
        self.use_store(store)
        #: A refused login the store could not keep (a full disk): remembered here.
        self._kept: Optional[Failure] = None
        #: Fingerprints of this auth's credentials, by salt (PBKDF2 is slow on purpose).
        self._prints: dict[str, int] = {}
        self._warned_save = False

    def current(self, now: Optional[float] = None) -> Optional[Token]:
        """A token good for now without any login, or ``None``."""
        token = self.token
        if token is not None and not token.is_expired(self.leeway, now):
            return token
        # A look without the lock: when another thread or process (an earlier
        # HTTPie run) already has a good token, that is all it takes. Stores
        # replace tokens whole, so this read sees the old token or the new one.
        # A sliding-window token idle here may have been used by another
        # process since: the store then holds it with a later last use.
        stored = self.store.load(self.key)
        if self._good_instead_of(stored, token, now):
            self.token = stored
            return stored
        return None

    def renew(self, stale: Optional[Token], send: Send, *, rejected: bool = False) -> Token:
        """:meth:`renew_flow` driven by ``send``."""
        from .exchange import drive

        return drive(self.renew_flow(stale, rejected=rejected), send)

    def renew_flow(self, stale: Optional[Token], *, rejected: bool = False) -> Flow[Token]:
        """A good token: one another worker just got, a refreshed one, or a login.

        ``stale`` is the token that expired or was refused (``None``: whatever
        is stored, if still good); ``rejected`` says the API refused it.
        """
        with self._lock():
            stored = self.store.load(self.key)
            if self._good_instead_of(stored, stale, rejected=rejected):
                assert stored is not None
                self.token = stored
                return stored
            self._hold_back()
            try:
                token = yield from self._new_token(stale or stored, rejected)
            except LoginError as exc:
                self._remember(exc)
                raise
            self._save(token)
            # Swapped in whole: other threads see the old token or the new one, never none.
            self.token = token
            return token

    def use_store(self, store: TokenStore) -> None:
        """Keep tokens (and, for a :class:`FleetStore`, refused logins) in ``store``."""
        self.store = store
        fleet = as_fleet_store(store)
        self._fleet = fleet is not None
        self.records: FleetStore = fleet if fleet is not None else _memory()

    def clear_failure(self) -> None:
        """Forget a remembered refused login (here and in the store): the next request tries."""
        self._kept = None
        self.records.clear_failure(self.key)

    def note_use(self, token: Token, sent_at: float) -> None:
        """A call with ``token`` was answered: sliding-window tokens live on from ``sent_at``."""
        if token.idle_timeout is None:
            return
        token.touch(sent_at)
        if not self.store.persistent:
            return
        # Let other processes see the use too, but do not write the store per request:
        # only once the use the store knows of is a share of the window old.
        saved_for, saved_use = self._saved_use
        if saved_for != token.access_token:
            saved_use = token.issued_at
        if sent_at - saved_use <= token.idle_timeout * TOUCH_SAVE_SHARE:
            return
        with self._lock():
            stored = self.store.load(self.key)
            if stored is not None and stored.access_token == token.access_token:
                stored.touch(sent_at)
                self.store.save(self.key, stored)
        self._saved_use = (token.access_token, sent_at)

    def forget(self) -> None:
        """Drop the token here and in the store: the next request logs in."""
        with self._lock():
            self.store.delete(self.key)
            self.token = None

    def _good_instead_of(
        self,
        stored: Optional[Token],
        stale: Optional[Token],
        now: Optional[float] = None,
        *,
        rejected: bool = False,
    ) -> bool:
        """Is ``stored`` a token to use now in place of ``stale``?

        The same token will do when it was not refused, only idle here: the
        store's copy holds the last use another process made of it.
        """
        return (
            stored is not None
            and (stale is None or stored.access_token != stale.access_token or not rejected)
            and not stored.is_expired(self.leeway, now)
        )

    def _lock(self) -> AbstractContextManager[object]:
        # A lock shared by machines lapses after the login's whole deadline: a
        # holder killed mid-login delays the others by no more than that.
        if self._fleet:
            return self.records.lock(self.key, expiry=self.timeout + LOCK_MARGIN)
        return self.store.lock(self.key)

    def _hold_back(self) -> None:
        """Raise instead of logging in while a refused login is remembered, or past the cap."""
        from . import failures

        now = time.time()
        for failure in (self._kept, self.records.load_failure(self.key)):
            if failure is not None and failure.until > now and self._applies(failure):
                shared = self.store.persistent and failure is not self._kept
                where = repr(self.store) if shared else "this process"
                raise failures.remembered_error(failure, where, now)
        count = self.records.count_attempt(self.key, failures.ATTEMPT_WINDOW, now)
        if count > failures.LOGINS_PER_WINDOW:
            raise failures.too_many_attempts(self.vendor.title, self.key.username, count, now)

    def _applies(self, failure: Failure) -> bool:
        """Does ``failure`` hold for this auth's credentials? (A corrected password is tried.)"""
        if failure.fingerprint is None or failure.salt is None:
            return True  # a lock or a rate limit holds for any password
        return self._print(failure.salt) == failure.fingerprint

    def _print(self, salt: str) -> int:
        if salt not in self._prints:
            from .failures import fingerprint

            self._prints[salt] = fingerprint(self._credentials(), bytes.fromhex(salt))
        return self._prints[salt]

    def _credentials(self) -> bytes:
        """User name and every secret option a login sends (asked for now, if need be)."""
        skip = set(self.vendor.single_use_options)
        names = sorted(o.name for o in self.vendor.all_options() if o.secret and o.name not in skip)
        values = self.settings.values(names)
        parts = [self.settings.username] + [f"{n}={values.get(n) or ''}" for n in names]
        return "\0".join(parts).encode()

    def _remember(self, exc: LoginError) -> None:
        from .failures import record_for

        try:
            failure = record_for(exc, self._print)
        except (AuthPluginError, ValueError):
            return
        if failure is None:
            return
        try:
            self.records.save_failure(self.key, failure)
        except (AuthPluginError, OSError):
            self._kept = failure  # the store cannot write: at least this process holds back

    def _save(self, token: Token) -> None:
        """Store a new token; a store that cannot write (a full disk) does not lose it."""
        try:
            self.store.save(self.key, token)
            self.records.clear_failure(self.key)
            self._kept = None
        except (AuthPluginError, OSError) as exc:
            # Not saved, still used: self.token keeps it, so requests do not each log in.
            if not self._warned_save:
                self._warned_save = True
                warnings.warn(
                    f"auth-plugins: could not save the {self.vendor.title} token ({exc}); "
                    "this process keeps it in memory",
                    stacklevel=4,
                )

    def _new_token(self, previous: Optional[Token], rejected: bool) -> Flow[Token]:
        from .exchange import Deadline, refresh

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
        except InvalidCredentials as exc:
            self.settings.explain(exc)  # "the password came from the keyring (...)"
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
        from .exchange import password_login

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


def _memory() -> FleetStore:
    from ..stores.memory import MemoryTokenStore

    return MemoryTokenStore()


def _life(token: Token) -> str:
    left = token.expires_in()
    return "with no stated expiry" if left is None else f"good for {left:.0f}s"
