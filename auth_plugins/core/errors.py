"""The exceptions auth-plugins raises, whichever HTTP client is in use.

Every one of them is an :class:`AuthPluginError`. Messages name the problem and
the fix and never quote a password, token or secret; no error keeps a login
request or a login answer (either may hold a secret), only its status and code.
``response`` is set where the answer is the caller's own API answer (a
rejected token that cannot be resent, a step-up demand): the client's response
object, requests' or httpx's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from collections.abc import Sequence


class AuthPluginError(Exception):
    """Base class of every error auth-plugins raises.

    ``summary`` says what went wrong, ``hint`` what to do about it; the message
    is both. The hint is kept apart so that a front end (HTTPie, the command
    line) can give advice in its own terms with :meth:`with_hint`.
    """

    def __init__(self, message: str, *, response: Any = None, hint: str = "") -> None:
        super().__init__(message)
        #: The caller's API answer this error is about (never a login answer), or None.
        self.response = response
        self.summary = message
        self.with_hint(hint)

    def with_hint(self, hint: str) -> AuthPluginError:
        """Replace the advice part of the message (in place); returns the error."""
        self.hint = hint
        self.message = f"{self.summary.rstrip('. ')}. {hint}" if hint else self.summary
        self.args = (self.message,)
        return self

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (multiprocessing, Celery): rebuild them
        # from their attributes, whatever their __init__ takes. The response is
        # left behind: it holds a live connection and the request that was sent.
        state = {k: v for k, v in self.__dict__.items() if k != "response"}
        return (_rebuild, (type(self), state))


def _rebuild(cls: type[AuthPluginError], state: dict[str, Any]) -> AuthPluginError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.response = None
    error.args = (state.get("message", ""),)
    return error


class ConfigError(AuthPluginError, ValueError):
    """A required setting is missing or a setting has a value we cannot use."""


class LoginError(AuthPluginError):
    """Logging in to the vendor failed.

    ``status`` is the HTTP status of the vendor's answer (``None`` when there was
    no answer), ``code`` the vendor's error code when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        response: Any = None,
        status: Optional[int] = None,
        code: Optional[str] = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, response=response, hint=hint)
        self.status = status if status is not None else _status_of(response)
        self.code = code

    #: True when no login was sent: the error was met before by a process sharing
    #: the token store, and is remembered there until it no longer holds.
    remembered: bool = False


class InvalidCredentials(LoginError):
    """The vendor rejected the user name, password or application key.

    The auth that raised it will not send the same credentials again (each
    wrong try brings an account closer to a lockout); call ``reset()`` on it
    or build a new one with corrected credentials.
    """


class AccountLocked(LoginError):
    """The vendor has locked the account after failed logins; wait, do not retry."""

    #: Seconds until the vendor unlocks the account, when it said (Retry-After).
    retry_after: Optional[float] = None


class RateLimited(LoginError):
    """The vendor answered 429 or 503; ``retry_after`` is the wait in seconds when it said.

    Also raised, with no answer (``status`` None), when a key has made the most
    logins auth-plugins allows in a minute (``local`` is then True).
    """

    #: True when auth-plugins itself holds back (too many logins), not the vendor.
    local: bool = False

    def __init__(
        self,
        message: str,
        *,
        response: Any = None,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        code: Optional[str] = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, response=response, status=status, code=code, hint=hint)
        self.retry_after = retry_after


class TwoFactorRequired(LoginError):
    """The vendor wants a second factor before it issues a token (TeamUp).

    ``pending_login_id`` and ``providers`` are what the next steps need:
    ``auth.start_two_factor(phone, provider, pending_login_id)`` sends the SMS,
    ``auth.verify_two_factor(phone, code)`` finishes, and the next request logs
    in. A program that already has a verification key passes it as
    ``verification_key=`` (or ``TEAMUP_VERIFICATION_KEY``).
    """

    def __init__(
        self,
        message: str,
        *,
        pending_login_id: str,
        providers: Sequence[int],
        response: Any = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, response=response, code="pending_login", hint=hint)
        self.pending_login_id = pending_login_id
        self.providers = list(providers)


class StepUpRequired(AuthPluginError):
    """The vendor wants a second factor for this call (up2.money step-up).

    Complete it with ``auth.send_step_up_otp()`` and ``auth.verify_step_up(code)``,
    then send the request again; the token stays the same.
    """


class BodyNotReplayable(AuthPluginError):
    """The token was rejected and the request body cannot be sent a second time.

    The token has been renewed already; send the request again. ``response``
    is the vendor's 401/410 answer.
    """


def _status_of(response: Any) -> Optional[int]:
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None
