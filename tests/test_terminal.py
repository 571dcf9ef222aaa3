"""The terminal front end's helpers, called directly (HTTPie and the CLI run them end to end)."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import pytest

from auth_plugins import TeamUpAuth, Up2MoneyAuth
from auth_plugins.adapters.terminal import accepts_keyword, password_prompt
from auth_plugins.errors import ConfigError


class Named:
    def __init__(self, username: str, *, two_factor_handler: Any = None) -> None:
        pass


class Positional:
    def __init__(self, two_factor_handler: Any, /) -> None:  # not a keyword
        pass


class PositionalFirst:
    def __init__(self, username: str, /, two_factor_handler: Any = None) -> None:
        pass


class Forwards:
    def __init__(self, **kwargs: Any) -> None:  # takes any keyword, names none
        pass


class Inherits(Named):
    pass


def _decorate(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        init(*args, **kwargs)

    return wrapper


class Wrapped:
    @_decorate
    def __init__(self, two_factor_handler: Any = None) -> None:
        pass


class Described:
    def __init__(self, *args: Any) -> None:
        pass

    __signature__ = inspect.Signature(
        [inspect.Parameter("two_factor_handler", inspect.Parameter.KEYWORD_ONLY)]
    )


class Made(type):
    def __call__(cls, two_factor_handler: Any = None) -> Any:
        return super().__call__()


class ByMetaclass(metaclass=Made):
    pass


def factory_function(username: str, two_factor_handler: Any = None) -> None:
    pass


@pytest.mark.parametrize(
    "factory",
    [
        Named,
        Positional,
        PositionalFirst,
        Forwards,
        Inherits,
        Wrapped,
        Described,
        ByMetaclass,
        factory_function,
        TeamUpAuth,
        Up2MoneyAuth,
        functools.partial(factory_function, "alice"),
        len,
    ],
)
def test_accepts_keyword_agrees_with_inspect(factory: Callable[..., Any]) -> None:
    """The fast reading of an ``__init__`` gives the answer ``inspect.signature`` gives."""
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    try:
        parameter = inspect.signature(factory).parameters.get("two_factor_handler")
        expected = parameter is not None and parameter.kind in keyword_kinds
    except (TypeError, ValueError):
        expected = False
    assert accepts_keyword(factory, "two_factor_handler") is expected


def test_accepts_keyword_answers() -> None:
    """The cases above, spelled out: the keyword must be one the factory names."""
    assert accepts_keyword(Named, "two_factor_handler")
    assert accepts_keyword(Inherits, "two_factor_handler")
    assert accepts_keyword(PositionalFirst, "two_factor_handler")
    assert not accepts_keyword(PositionalFirst, "username")
    assert accepts_keyword(Wrapped, "two_factor_handler")
    assert accepts_keyword(Described, "two_factor_handler")
    assert accepts_keyword(ByMetaclass, "two_factor_handler")
    assert accepts_keyword(TeamUpAuth, "two_factor_handler")
    assert not accepts_keyword(Named, "username_of_nobody")
    assert not accepts_keyword(Forwards, "two_factor_handler")
    assert not accepts_keyword(Positional, "two_factor_handler")
    assert not accepts_keyword(len, "two_factor_handler")


def test_password_prompt_without_a_terminal_says_how_to_give_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message is written when the prompt cannot ask, and only then."""
    asked: list[str] = []

    def message() -> str:
        asked.append("message")
        return "Acme needs the password of alice: set ACME_PASSWORD"

    ask = password_prompt("Acme password for alice: ", message)
    assert asked == []
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError) as caught:
        ask()
    assert str(caught.value) == "Acme needs the password of alice: set ACME_PASSWORD"
    assert asked == ["message"]


def test_password_prompt_refuses_an_empty_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "")
    ask = password_prompt("p: ", lambda: "Acme needs the password of alice: set X")
    with pytest.raises(ConfigError) as caught:
        ask()
    assert str(caught.value) == "Acme needs the password of alice: no password was typed"


def test_password_prompt_end_of_input_is_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", eof)
    ask = password_prompt("p: ", lambda: "Acme needs the password of alice: set X")
    with pytest.raises(ConfigError, match="no password was typed"):
        ask()


def test_password_prompt_returns_what_was_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return "s3cret"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", typed)
    assert password_prompt("Acme password for alice: ", lambda: "unused")() == "s3cret"
    assert prompts == ["Acme password for alice: "]
