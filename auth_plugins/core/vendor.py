"""A vendor described as data: what to POST to log in, where the token is, how to send it.

The core reads a :class:`Vendor` and does the rest, for every HTTP client.
What data cannot say, a vendor says with a few small functions (the ``*_hook``
fields) over an :class:`~auth_plugins.core.messages.Answer` (which reads like a
``requests.Response``: ``status_code``, ``headers``, ``content``, ``json()``).
The built-in TeamUp and up2.money vendors are written this way, and so is any
third-party vendor plugin.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

from .record import Record, field
from .templates import fill_headers, template_names

if TYPE_CHECKING:
    from .errors import ConfigError
    from .messages import Answer
    from .tokens import Token

#: A login answer's JSON reaches this hook before the token is read from it;
#: it raises (e.g. ``TwoFactorRequired``) when the answer is not a token.
AnswerHook = Callable[[Any, "Answer"], None]
#: Decides whether an API answer means "this token is no longer good".
RejectedHook = Callable[["Answer"], bool]
#: Sees every API answer that is not a rejection; raises to stop (e.g. step-up).
ApiResponseHook = Callable[["Answer"], None]
#: Turns the JSON object of a vendor's error answer into ``(code, message)``.
ErrorHook = Callable[[dict[str, Any]], "tuple[Optional[str], str]"]
#: Checks option values beyond ``choices``; raises ``ConfigError`` for a bad one.
OptionsHook = Callable[[Mapping[str, Any]], None]


class Option(Record):
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


class Vendor(Record):
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
    #: Options a successful login spends (a one-time two-factor key): cleared after it.
    single_use_options: tuple[str, ...] = ()
    #: One line for listings and ``http --help``.
    description: str = ""
    login_answer_hook: Optional[AnswerHook] = None
    token_rejected_hook: Optional[RejectedHook] = None
    api_response_hook: Optional[ApiResponseHook] = None
    error_hook: Optional[ErrorHook] = None
    options_hook: Optional[OptionsHook] = None

    def __post_init__(self) -> None:
        # A vendor is usually written once, by a plugin author, and read at import
        # time: mistakes that would otherwise show up as a silently missing header
        # or a login that never works are reported here, naming the field.
        _check(self)

    @property
    def username_variable(self) -> str:
        """The user name's environment variable: ``username_env``, else ``{PREFIX}_USERNAME``."""
        return self.username_env or f"{self.env_prefix}_USERNAME"

    def all_options(self) -> tuple[Option, ...]:
        """The settings this vendor's auth accepts, the three common ones first."""
        prefix = self.env_prefix
        return (
            Option(
                "username",
                env=self.username_variable,
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
            raise config_error(
                f"{self.title} auth got unknown argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for option in known.values():
            values[option.name] = _resolve(self, option, given.get(option.name))
        if self.options_hook is not None:
            self.options_hook(values)
        return values

    def header_values(self, options: Mapping[str, Optional[str]], token: Token) -> dict[str, str]:
        """The headers an API call carries with ``token``."""
        return fill_headers(self.api_headers, {**options, "token": token.access_token})


# Checked with str methods, not regular expressions: compiling a pattern costs
# more at import than checking every vendor does (HTTPie start-up, issue 15).
_NAME_CHARS = frozenset(string.ascii_lowercase + string.digits + "_-")
_ENV_CHARS = frozenset(string.ascii_uppercase + string.digits + "_")


def _spelled(text: object, first: str, rest: frozenset[str]) -> bool:
    """Is ``text`` a string starting with one of ``first``, then only ``rest``?"""
    return (
        isinstance(text, str) and text != "" and text[0] in first and all(c in rest for c in text)
    )


#: Names the engine fills in besides the options: where each template may use them.
_ENGINE_NAMES = {
    "login_body": frozenset(),
    "login_headers": frozenset(),
    "api_headers": frozenset({"token"}),
    "refresh_body": frozenset({"refresh_token"}),
}
_STATUS_FIELDS = ("relogin_statuses", "invalid_credentials_statuses", "locked_statuses")


def _check(vendor: Vendor) -> None:
    """Validate a :class:`Vendor` and normalise its collections (lists become tuples/sets)."""

    def bad(problem: str) -> ConfigError:
        return config_error(f"vendor {vendor.name!r}: {problem}")

    if not _spelled(vendor.name, string.ascii_lowercase, _NAME_CHARS):
        raise bad("name must be lower-case letters, digits, '-' or '_', starting with a letter")
    if not vendor.title:
        raise bad("title must be a name for people, e.g. 'Acme'")
    if not _spelled(vendor.env_prefix, string.ascii_uppercase, _ENV_CHARS):
        raise bad("env_prefix must be upper-case letters, digits or '_', e.g. 'ACME'")
    for name, path in (("login_path", vendor.login_path), ("refresh_path", vendor.refresh_path)):
        if path is not None and not path.startswith("/"):
            raise bad(f"{name} must start with '/' (it is appended to the base URL)")
    if vendor.refresh_path and not vendor.refresh_token_field:
        raise bad("refresh_path needs refresh_token_field: where the login answer has the token")
    if not vendor.token_field:
        raise bad("token_field must name where the login answer has the token")
    for name in ("token_lifetime", "idle_timeout"):
        value = getattr(vendor, name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (number and value > 0):
            raise bad(f"{name} must be a positive number of seconds, or None")
    # Declarations read naturally as lists and sets; the engine wants tuples and frozensets.
    object.__setattr__(vendor, "options", tuple(vendor.options))
    object.__setattr__(vendor, "single_use_options", tuple(vendor.single_use_options))
    for name in _STATUS_FIELDS:
        object.__setattr__(vendor, name, frozenset(int(s) for s in getattr(vendor, name)))

    option_names = [option.name for option in vendor.all_options()]
    clashes = {name for name in option_names if option_names.count(name) > 1}
    clashes |= set(option_names) & {"token", "refresh_token"}
    if clashes:
        raise bad(
            f"option name(s) {', '.join(sorted(clashes))} are taken: username, password, "
            "base_url, token and refresh_token are the engine's"
        )
    for template_field, extra in _ENGINE_NAMES.items():
        known = set(option_names) | extra
        try:
            used = template_names(getattr(vendor, template_field))
        except ValueError as exc:  # an unmatched brace
            raise bad(f"{template_field} has a broken template: {exc}") from None
        unknown = sorted(used - known)
        if unknown:
            raise bad(
                f"{template_field} uses {', '.join('{' + n + '}' for n in unknown)}, which no "
                f"option provides (a typo?); it can use: {', '.join(sorted(known))}"
            )
    if "token" not in template_names(vendor.api_headers):
        raise bad("api_headers must send the token: put '{token}' in one of them")
    for template_field in ("login_headers", "api_headers"):
        for header, template in getattr(vendor, template_field).items():
            # A line break would be sent on every request and refused there.
            if not (isinstance(template, str) and template.isprintable()):
                from .text import quote

                raise bad(
                    f"{template_field}[{header!r}] must be one line of text; "
                    f"{quote(repr(template), 80)} is not"
                )


def _resolve(vendor: Vendor, option: Option, value: Any) -> Any:
    source = f"argument {option.name}="
    if option.secret and callable(value):
        # A secret may come from a callable (a prompt, a keyring) that is only
        # called when a login needs it; see core.settings.Settings.
        return value
    if value is None and option.env:
        value = os.environ.get(option.env)
        source = f"environment variable {option.env}"
    if value is None:
        value = option.default
    if value is not None and not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int):
            raise config_error(
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
            raise config_error(f"{vendor.title} needs {option.help or option.name}: set {where}")
        return None
    if option.choices:
        for choice in option.choices:
            if value.lower() == choice.lower():
                return choice
        shown = "a hidden value" if option.secret else repr(value)
        raise config_error(
            f"{vendor.title} {source} got {shown}; use one of: {', '.join(option.choices)}"
        )
    return value


def named_user(vendor: Vendor, given: Optional[str]) -> str:
    """The user name given (a blank one is none), else the vendor's user-name variable's.

    Stripped; ``""`` when neither has one. How a command line (HTTPie, the
    ``auth-plugins`` command) reads the user name.
    """
    return (given or "").strip() or (os.environ.get(vendor.username_variable) or "").strip()


def header_option_names(vendor: Vendor) -> set[str]:
    """The options that go into a header (of the login or of API calls)."""
    return template_names(vendor.api_headers) | template_names(vendor.login_headers)


def check_header_value(vendor: Vendor, name: str, value: Any) -> None:
    """Refuse a value bound for a header that has a line break, a control character or
    spaces at an end (``ConfigError``, which never shows the value)."""
    if not isinstance(value, str):
        return
    if all(" " <= ch <= "~" or "\x80" <= ch <= "\xff" for ch in value) and value == value.strip():
        return
    option = next((o for o in vendor.all_options() if o.name == name), None)
    where = f"{name}=" + (f" or {option.env}" if option and option.env else "")
    raise config_error(
        f"{vendor.title} {name} has a line break, a control character or spaces at an end, "
        f"and it is sent in a header; check {where} (a stray newline from a file or a "
        "command is the usual cause)"
    )


def config_error(message: str) -> ConfigError:
    """A :class:`ConfigError`, its module imported only when one is raised (HTTPie's
    start-up with a cached token reads vendors but raises nothing, issue 15)."""
    from .errors import ConfigError

    return ConfigError(message)
