"""The plugin host and vendors declared as data.

Plugins here are throwaway distributions (``fake_plugins``) that
``importlib.metadata`` finds as it finds installed ones, so the host's real
entry-point loading runs. The example plugin, installed, is tested in
``test_acme_plugin.py``.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_plugins import BROKEN_HOOK, BROKEN_IMPORT, WIDGET, FakeDistributions
from helpers import run_threads

from auth_plugins import ConfigError, PasswordAuth, TeamUpAuth, Up2MoneyAuth, get_auth
from auth_plugins import plugins as host
from auth_plugins.plugins import PluginLoadError, PluginWarning
from auth_plugins.sandbox import (
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.vendor import Option, Vendor
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY

BUILTINS = {"teamup", "up2money"}
#: WIDGET, counting the calls of its hook in ``CALLS``.
COUNTING_WIDGET = "CALLS = []\n" + WIDGET.replace(
    "    register(WIDGET)", "    CALLS.append(1)\n    register(WIDGET)"
)


@pytest.fixture(autouse=True)
def fresh_host() -> Iterator[None]:
    """Each test loads plugins afresh, and leaves nothing loaded from its temp folders."""
    host.reset_for_tests()
    yield
    host.reset_for_tests()


@pytest.fixture
def base() -> set[str]:
    """The vendors that load before a test adds plugins: the built-ins, and any
    plugin installed in this environment (the example's acme)."""
    names = set(host.available_vendors())
    host.reset_for_tests()
    return names


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDistributions]:
    """A folder of throwaway plugin distributions on ``sys.path``."""
    fake = FakeDistributions(tmp_path / "site", monkeypatch)
    yield fake
    fake.forget()


def add_widget(dists: FakeDistributions) -> None:
    dists.add("widget-plugin", {"widget": "tp_widget"}, {"tp_widget": WIDGET})


def add_broken(dists: FakeDistributions) -> None:
    dists.add("broken-plugin", {"broken": "tp_broken"}, {"tp_broken": BROKEN_IMPORT})
    dists.add("halfway-plugin", {"halfway": "tp_halfway"}, {"tp_halfway": BROKEN_HOOK})


def vendors_and_warnings() -> tuple[Mapping[str, host.VendorEntry], list[str]]:
    """Load the plugins; the vendors, and the text of every PluginWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = host.available_vendors()
    return found, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


# -- built-ins and loading ---------------------------------------------------------


def test_builtin_vendors_come_through_the_same_hook() -> None:
    found, problems = vendors_and_warnings()
    assert problems == []
    assert set(found) >= BUILTINS
    assert found["teamup"].vendor is TEAMUP
    assert found["teamup"].source == "built-in"
    assert found["up2money"].vendor is UP2MONEY
    manager = host.plugin_manager()
    assert manager.is_registered(sys.modules["auth_plugins.vendors.teamup"])
    impls = {impl.plugin_name for impl in manager.hook.register_vendors.get_hookimpls()}
    assert set(host.BUILTIN_PLUGINS) <= impls
    # The names a vendor plugin needs are in the package's public names.
    import auth_plugins

    assert auth_plugins.hookimpl is sys.modules["auth_plugins.hookspecs"].hookimpl


def test_get_auth_builds_each_vendors_own_auth_class() -> None:
    teamup = get_auth("TeamUp", username="u", password="p", direct_auth_key="k")
    up2money = get_auth("up2money", username="a@b.c", password="p", secret="s")
    assert type(teamup) is TeamUpAuth
    assert type(up2money) is Up2MoneyAuth


def test_plugins_load_on_first_need_and_only_once(dists: FakeDistributions) -> None:
    dists.add("count-plugin", {"count": "tp_count"}, {"tp_count": COUNTING_WIDGET})
    import auth_plugins.plugins  # noqa: F401  (importing loads nothing)

    assert not dists.imported("tp_count")
    first = host.available_vendors()
    assert dists.imported("tp_count")
    assert host.available_vendors() is first
    assert host.get_vendor("widget") is first["widget"]
    assert sys.modules["tp_count"].CALLS == [1]


def test_concurrent_first_use_loads_once(dists: FakeDistributions) -> None:
    dists.add("count-plugin", {"count": "tp_count"}, {"tp_count": COUNTING_WIDGET})
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[object] = []

    def first_use() -> None:
        barrier.wait(timeout=30)
        results.append(host.available_vendors())

    run_threads(threads, first_use)  # fails on a hung thread or one that raised
    assert len(results) == threads
    assert all(result is results[0] for result in results)
    assert sys.modules["tp_count"].CALLS == [1]


def test_an_installed_plugin_is_listed_with_its_distribution(dists: FakeDistributions) -> None:
    add_widget(dists)
    found, problems = vendors_and_warnings()
    assert problems == []
    assert found["widget"].source == "plugin widget (widget-plugin 0.0.0)"
    # A vendor declared as data gets the generic engine.
    auth = get_auth("widget", username="u", password="p")
    assert type(auth) is PasswordAuth
    assert auth.vendor.name == "widget"
    assert list(found) == sorted(found)


# -- broken plugins -----------------------------------------------------------------


def test_a_broken_plugin_is_a_warning_naming_it_and_breaks_nothing_else(
    base: set[str], dists: FakeDistributions, sandbox: Sandbox
) -> None:
    add_widget(dists)
    add_broken(dists)
    found, problems = vendors_and_warnings()
    assert set(found) == base | {"widget"}
    assert len(problems) == 2, problems
    failed_import = next(p for p in problems if "plugin broken " in p)
    assert "plugin broken (broken-plugin 0.0.0) failed to load" in failed_import
    assert "RuntimeError: this plugin is broken on purpose" in failed_import
    assert "AUTH_PLUGINS_LOAD" in failed_import
    failed_hook = next(p for p in problems if "plugin halfway " in p)
    assert "failed to register its vendors: LookupError" in failed_hook
    # What the broken hook registered before it raised does not count.
    assert "halfway" not in found
    # The built-ins still log in and call the API.
    auth = get_auth(
        "up2money",
        username=DEMO_UP2MONEY_EMAIL,
        password=DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
    )
    with auth:
        assert requests.get(sandbox.up2money_url + "/echo", auth=auth).status_code == 200
    assert sandbox.logins("up2money") == 1


def test_strict_mode_makes_a_broken_plugin_an_error(
    base: set[str], dists: FakeDistributions, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_widget(dists)
    add_broken(dists)
    monkeypatch.setenv("AUTH_PLUGINS_STRICT", "1")
    with pytest.raises(PluginLoadError, match=r"plugin broken \(broken-plugin 0.0.0\)") as caught:
        host.available_vendors()
    assert "AUTH_PLUGINS_STRICT" in str(caught.value)
    with pytest.raises(PluginLoadError):
        get_auth("widget")
    # Nothing was left half loaded: without strict mode the next call loads cleanly.
    monkeypatch.delenv("AUTH_PLUGINS_STRICT")
    found, problems = vendors_and_warnings()
    assert set(found) == base | {"widget"}
    assert len(problems) == 2


def test_a_plugin_looking_up_vendors_while_loading_is_skipped_not_deadlocked(
    dists: FakeDistributions,
) -> None:
    dists.add(
        "eager-plugin",
        {"eager": "tp_eager"},
        {"tp_eager": "import auth_plugins\nauth_plugins.get_vendor('teamup')\n"},
    )
    outcome: list[Any] = []
    # Fails on a loader still running after the wait (deadlocked) or one that raised.
    run_threads(1, lambda: outcome.append(vendors_and_warnings()), timeout=30)
    found, problems = outcome[0]
    assert set(found) >= BUILTINS
    assert len(problems) == 1
    assert "plugin eager" in problems[0]
    assert "still loading" in problems[0]


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (WIDGET.replace("@hookimpl\n", ""), "has no hook: mark its register_vendors"),
        (
            WIDGET.replace("def register_vendors", "def register_vendor"),
            "unknown hook(s) register_vendor",
        ),
        (
            WIDGET + "\n@hookimpl\ndef register_stores(register):\n    pass\n",
            "unknown hook(s) register_stores",
        ),
        (WIDGET.replace("register(WIDGET)", 'register("widget")'), "takes a Vendor, not str"),
        (
            WIDGET.replace("register(WIDGET)", "register(WIDGET, dict)"),
            "takes a subclass of PasswordAuth",
        ),
        (
            WIDGET.replace('name="widget"', 'name="Widget Co"'),
            "failed to load: ConfigError: vendor 'Widget Co': name must be lower-case",
        ),
    ],
    ids=[
        "no-marker",
        "misspelt-hook",
        "extra-unknown-hook",
        "not-a-vendor",
        "not-an-auth-class",
        "bad-vendor",
    ],
)
def test_plugin_mistakes_are_warnings_that_say_what_to_fix(
    base: set[str], dists: FakeDistributions, module: str, expected: str
) -> None:
    dists.add("mistake-plugin", {"mistake": "tp_mistake"}, {"tp_mistake": module})
    found, problems = vendors_and_warnings()
    assert set(found) == base
    assert len(problems) == 1, problems
    assert "plugin mistake (mistake-plugin 0.0.0)" in problems[0]
    assert expected in problems[0]


def test_an_optional_hook_from_a_newer_version_is_no_mistake(
    base: set[str], dists: FakeDistributions
) -> None:
    module = WIDGET + "\n@hookimpl(optionalhook=True)\ndef register_stores(register):\n    pass\n"
    dists.add("widget-plugin", {"widget": "tp_widget"}, {"tp_widget": module})
    found, problems = vendors_and_warnings()
    assert problems == []
    assert set(found) == base | {"widget"}


# -- which plugins load ------------------------------------------------------------


def test_empty_load_list_loads_no_plugin(
    dists: FakeDistributions, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_widget(dists)
    add_broken(dists)
    monkeypatch.setenv("AUTH_PLUGINS_LOAD", "")
    found, problems = vendors_and_warnings()
    assert set(found) == BUILTINS
    assert problems == []
    assert not dists.imported("tp_widget")


@pytest.mark.parametrize("wanted", ["widget", " Widget_Plugin ", "nothing-else,widget"])
def test_load_list_by_plugin_or_distribution_name(
    dists: FakeDistributions, monkeypatch: pytest.MonkeyPatch, wanted: str
) -> None:
    add_widget(dists)
    add_broken(dists)
    monkeypatch.setenv("AUTH_PLUGINS_LOAD", wanted)
    found, problems = vendors_and_warnings()
    assert set(found) == BUILTINS | {"widget"}
    # The broken plugins were never imported, so they warn about nothing...
    assert not dists.imported("tp_halfway")
    assert not any("failed" in p for p in problems)
    # ...and a name that matches nothing is a warning naming what is installed.
    if "nothing-else" in wanted:
        assert len(problems) == 1
        assert "AUTH_PLUGINS_LOAD names 'nothing-else'" in problems[0]
        assert re.search(r"installed plugins: .*broken, halfway, .*widget", problems[0])
    else:
        assert problems == []


# -- duplicate names ------------------------------------------------------------------


def test_a_plugin_cannot_take_a_builtin_vendors_name(dists: FakeDistributions) -> None:
    impostor = WIDGET.replace('name="widget"', 'name="teamup"')
    dists.add("impostor-plugin", {"impostor": "tp_impostor"}, {"tp_impostor": impostor})
    found, problems = vendors_and_warnings()
    assert found["teamup"].vendor is TEAMUP
    assert len(problems) == 1
    assert (
        "plugin impostor (impostor-plugin 0.0.0) registers vendor 'teamup', which built-in "
        "already registered; keeping the built-in one" in problems[0]
    )


def test_two_plugins_with_one_vendor_name_keep_the_first_by_plugin_name(
    dists: FakeDistributions,
) -> None:
    dists.add("zed-plugin", {"zed": "tp_zed"}, {"tp_zed": WIDGET})
    dists.add("abc-plugin", {"abc": "tp_abc"}, {"tp_abc": WIDGET})
    found, problems = vendors_and_warnings()
    assert found["widget"].source == "plugin abc (abc-plugin 0.0.0)"
    assert len(problems) == 1
    assert "plugin zed (zed-plugin 0.0.0) registers vendor 'widget'" in problems[0]


def test_two_distributions_with_one_plugin_name_load_the_first(
    dists: FakeDistributions,
) -> None:
    dists.add("widget-one", {"widget": "tp_widget_one"}, {"tp_widget_one": WIDGET})
    dists.add("widget-two", {"widget": "tp_widget_two"}, {"tp_widget_two": WIDGET})
    found, problems = vendors_and_warnings()
    assert "widget" in found
    assert len(problems) == 1
    assert "two installed plugins are named 'widget'" in problems[0]
    assert "widget-one 0.0.0" in problems[0]
    assert "widget-two 0.0.0" in problems[0]


# -- a vendor with its own auth class --------------------------------------------------


def test_register_with_an_auth_class(dists: FakeDistributions) -> None:
    module = WIDGET.replace(
        "@hookimpl",
        "from auth_plugins import PasswordAuth\n\n"
        "class WidgetAuth(PasswordAuth):\n"
        "    def __init__(self, **options):\n"
        "        super().__init__(WIDGET, **options)\n\n"
        "@hookimpl",
    ).replace("register(WIDGET)", "register(WIDGET, WidgetAuth)")
    dists.add("widget-plugin", {"widget": "tp_widget"}, {"tp_widget": module})
    auth = get_auth("widget", username="u", password="p")
    assert type(auth).__name__ == "WidgetAuth"
    assert isinstance(auth, PasswordAuth)


def test_an_unknown_vendor_names_the_installed_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"no vendor named 'acme-corp'; installed vendors:.*teamup"
    ):
        get_auth("acme-corp")


# -- vendors declared as data -----------------------------------------------------------


def declare(**changes: Any) -> Vendor:
    settings: dict[str, Any] = {
        "name": "widget",
        "title": "Widget",
        "base_url": "https://widget.example",
        "login_path": "/login",
        "login_body": {"user": "{username}", "pass": "{password}"},
        "env_prefix": "WIDGET",
        **changes,
    }
    return Vendor(**settings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Widget"}, "name must be lower-case"),
        ({"env_prefix": "widget"}, "env_prefix must be upper-case"),
        ({"login_path": "login"}, "login_path must start with '/'"),
        ({"refresh_path": "/refresh"}, "refresh_path needs refresh_token_field"),
        ({"token_lifetime": 0}, "token_lifetime must be a positive number"),
        (
            {"api_headers": {"X-Token": "{token}", "X-Org": "{org}"}},
            "api_headers uses {org}, which no option provides (a typo?); it can use: "
            "base_url, password, token, username",
        ),
        ({"login_body": {"user": "{username"}}, "login_body has a broken template"),
        (
            {"login_body": {"user": "{username}", "data": "{}"}},
            "login_body has a broken template: '{}' in '{}' names no value: write a name, "
            "as in '{username}', or '{{' and '}}' for braces",
        ),
        ({"login_headers": {"X-N": "n{0}"}}, "login_headers has a broken template: '{0}' in"),
        ({"login_body": {"t": "{token}"}}, "login_body uses {token}"),
        ({"api_headers": {"X-Org": "{username}"}}, "api_headers must send the token"),
        ({"options": (Option("password"),)}, "option name(s) password are taken"),
    ],
)
def test_a_vendor_declaration_mistake_is_an_error_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        declare(**changes)
    assert message in str(caught.value)
    assert str(caught.value).startswith("vendor ")


def test_a_declaration_may_use_lists_and_sets() -> None:
    vendor = declare(
        relogin_statuses=[401, 419],
        locked_statuses={423},
        options=[Option("org", env="WIDGET_ORG")],
        api_headers={"X-Token": "{token}", "X-Org": "{org}"},
    )
    assert vendor.relogin_statuses == frozenset({401, 419})
    assert vendor.locked_statuses == frozenset({423})
    assert vendor.options == (Option("org", env="WIDGET_ORG"),)


def test_a_white_label_vendor_is_data_and_tests_against_the_builtin_sandbox(
    auth_plugins_sandbox: Sandbox,
) -> None:
    # up2.money mirrors a platform other vendors resell: such a vendor is a copy
    # of the data under its own name, served by the same sandbox endpoints.
    sb = auth_plugins_sandbox
    white_label = dataclasses.replace(
        UP2MONEY, name="moneybox", title="MoneyBox", env_prefix="MONEYBOX", username_env=None
    )
    auth = PasswordAuth(
        white_label,
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sb.up2money_url,
    )
    with auth:
        for _ in range(3):
            echoed = requests.get(sb.up2money_url + "/echo", auth=auth).json()
    assert echoed["headers"]["x-secret"] == DEMO_UP2MONEY_SECRET
    assert echoed["headers"]["Authorization-key"] == auth.token.access_token  # type: ignore[union-attr]
    assert sb.logins("up2money") == 1
    assert white_label.all_options()[0].env == "MONEYBOX_USERNAME"
