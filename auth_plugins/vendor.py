"""A vendor described as data: what to POST to log in, where the token is, how to send it.

The engine (:mod:`auth_plugins.auth`) reads a :class:`Vendor` and does the rest.
What data cannot say, a vendor says with a few small functions (the ``*_hook``
fields). The built-in TeamUp and up2.money vendors are written this way, and so
is any third-party vendor plugin.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from .errors import ConfigError

if TYPE_CHECKING:
    import requests

    from .tokens import Token

#: A login answer's JSON reaches this hook before the token is read from it;
#: it raises (e.g. ``TwoFactorRequired``) when the answer is not a token.
AnswerHook = Callable[[Any, "requests.Response"], None]
#: Decides whether an API answer means "this token is no longer good".
RejectedHook = Callable[["requests.Response"], bool]
#: Sees every API answer that is not a rejection; raises to stop (e.g. step-up).
ApiResponseHook = Callable[["requests.Response"], None]
#: Turns a vendor's error answer into ``(code, message)``.
ErrorHook = Callable[["requests.Response"], "tuple[Optional[str], str]"]


@dataclass(frozen=True)
class Option:
    """A setting the vendor's auth takes, as a keyword argument or from the environment."""

    name: str
    #: Environment variable read when the argument is not given.
    env: Optional[str] = None
    required: bool = False
    #: Secret values are never shown: not in ``repr``, errors or logs.
    secret: bool = False
    default: Optional[str] = None
    #: Accepted values (matched without regard to case, stored as spelled here).
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Vendor:
    """Everything the engine needs to know to log in to one vendor and use its token."""

    #: Short lower-case name: ``get_auth(name)``, ``--auth-type`` in HTTPie.
    name: str
    #: Name for people: "TeamUp".
    title: str
    #: Default API base URL, without a trailing slash.
    base_url: str
    #: Path of the login call below the base URL (query string allowed).
    login_path: str
    #: JSON body of the login call; ``"{name}"`` strings are replaced by option values.
    login_body: Mapping[str, Any]
    #: Prefix of the environment variables: ``{PREFIX}_USERNAME``, ``_PASSWORD``, ``_BASE_URL``.
    env_prefix: str
    #: Headers on the login call (templates like ``login_body``'s).
    login_headers: Mapping[str, str] = field(default_factory=dict)
    #: Headers on every API call; ``{token}`` is the access token. A header whose
    #: template names an option that is not set is left out.
    api_headers: Mapping[str, str] = field(
        default_factory=lambda: {"Authorization": "Bearer {token}"}
    )
    #: Dotted paths into the login answer's JSON.
    token_field: str = "access_token"
    expires_in_field: Optional[str] = None
    refresh_token_field: Optional[str] = None
    #: Fixed token life in seconds when the answer does not say (``None``: unknown).
    token_lifetime: Optional[float] = None
    #: Sliding window: the token dies this many seconds after its last use.
    idle_timeout: Optional[float] = None
    #: Refresh call (path and body template; ``{refresh_token}`` available).
    refresh_path: Optional[str] = None
    refresh_body: Mapping[str, Any] = field(default_factory=dict)
    #: API answers that mean "log in again and resend".
    relogin_statuses: frozenset[int] = frozenset({401, 410})
    #: Login answers that mean "wrong credentials": never retried.
    invalid_credentials_statuses: frozenset[int] = frozenset({401, 403})
    #: Login answers that mean "account locked".
    locked_statuses: frozenset[int] = frozenset({423})
    #: Extra words for a login status, e.g. ``{503: "the service is in maintenance"}``.
    status_messages: Mapping[int, str] = field(default_factory=dict)
    #: What the user name is called by the vendor, for messages and prompts.
    username_label: str = "username"
    #: Environment variable for the user name when not ``{PREFIX}_USERNAME``.
    username_env: Optional[str] = None
    #: Settings besides username, password and base_url.
    options: tuple[Option, ...] = ()
    #: One line for listings and ``http --help``.
    description: str = ""
    login_answer_hook: Optional[AnswerHook] = None
    token_rejected_hook: Optional[RejectedHook] = None
    api_response_hook: Optional[ApiResponseHook] = None
    error_hook: Optional[ErrorHook] = None

    def all_options(self) -> tuple[Option, ...]:
        """The settings this vendor's auth accepts, the three common ones first."""
        prefix = self.env_prefix
        return (
            Option(
                "username",
                env=self.username_env or f"{prefix}_USERNAME",
                required=True,
                help=f"your {self.title} {self.username_label}",
            ),
            Option(
                "password",
                env=f"{prefix}_PASSWORD",
                required=True,
                secret=True,
                help=f"your {self.title} password",
            ),
            Option(
                "base_url", env=f"{prefix}_BASE_URL", default=self.base_url, help="API base URL"
            ),
            *self.options,
        )

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Each option's value: the argument, else its environment variable, else its default.

        Raises :class:`ConfigError` naming the argument and the variable for a
        missing required value, a value outside ``choices`` or an unknown argument.
        """
        known = {option.name: option for option in self.all_options()}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(
                f"{self.title} auth got unknown argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for option in known.values():
            values[option.name] = _resolve(self, option, given.get(option.name))
        return values

    def header_values(self, options: Mapping[str, Optional[str]], token: Token) -> dict[str, str]:
        """The headers an API call carries with ``token``."""
        return fill_headers(self.api_headers, {**options, "token": token.access_token})


def _resolve(vendor: Vendor, option: Option, value: Any) -> Any:
    source = f"argument {option.name}="
    if option.secret and callable(value):
        # A secret may come from a callable (a prompt, a keyring) that is only
        # called when a login needs it; see PasswordAuth._secret_values().
        return value
    if value is None and option.env:
        value = os.environ.get(option.env)
        source = f"environment variable {option.env}"
    if value is None:
        value = option.default
    if value is not None and not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{vendor.title} {source} must be a string, not {type(value).__name__}"
            )
        value = str(value)
    if value is not None:
        value = value.strip() if not option.secret else value
    if not value:
        if option.required:
            where = f"argument {option.name}="
            if option.env:
                where += f" or environment variable {option.env}"
            raise ConfigError(f"{vendor.title} needs {option.help or option.name}: set {where}")
        return None
    if option.choices:
        for choice in option.choices:
            if value.lower() == choice.lower():
                return choice
        shown = "a hidden value" if option.secret else repr(value)
        raise ConfigError(
            f"{vendor.title} {source} got {shown}; use one of: {', '.join(option.choices)}"
        )
    return value


_WHOLE_FIELD = re.compile(r"^\{(\w+)\}$")


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill a JSON template: ``"{name}"`` becomes ``values[name]`` (any type).

    A string that mixes text and fields is formatted; one naming a missing or
    ``None`` value becomes ``None``, and a mapping entry that ends up ``None``
    is left out, so optional fields simply disappear.
    """
    if isinstance(template, Mapping):
        filled = {key: fill(item, values) for key, item in template.items()}
        return {key: item for key, item in filled.items() if item is not None}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, str):
        whole = _WHOLE_FIELD.match(template)
        if whole:
            return values.get(whole.group(1))
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        if any(values.get(name) is None for name in names):
            return None
        return template.format_map(values)
    return template


def fill_headers(template: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """Fill header templates; headers naming an unset value are left out."""
    filled = fill(template, values)
    return {name: str(value) for name, value in filled.items()}
