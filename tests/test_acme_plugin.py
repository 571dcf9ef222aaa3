"""The example third-party plugin, ``examples/acme-auth``, installed next to the package.

It is installed into the test environment (``./dev`` runs
``pip install -e examples/acme-auth``) and reached only the way a user reaches
a plugin: ``get_auth("acme")``, ``auth-plugins vendors`` and
``http --auth-type acme``, against its own sandbox on loopback.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fake_plugins import BROKEN_HOOK, BROKEN_IMPORT, FakeDistributions

from auth_plugins import ConfigError, InvalidCredentials, PasswordAuth, get_auth
from auth_plugins import plugins as host
from auth_plugins.adapters.requests import api_answer
from auth_plugins.cli import main as cli_main
from auth_plugins.plugins import PluginWarning

BIN = Path(sys.executable).parent
ACME_SOURCE = "plugin acme (acme-auth 0.1.0)"


def _installed() -> bool:
    try:
        importlib.metadata.distribution("acme-auth")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


if not _installed():
    # A failure, not a skip: CI must not pass without the example.
    pytest.fail(
        "the example plugin is not installed: run `.venv/bin/pip install -e examples/acme-auth` "
        "(./dev does it)",
        pytrace=False,
    )

from acme_auth.sandbox import DEMO_PASSWORD, DEMO_TENANT, DEMO_USERNAME, AcmeSandbox  # noqa: E402
from acme_auth.vendor import ACME  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_host() -> Iterator[None]:
    host.reset_for_tests()
    yield
    host.reset_for_tests()


@pytest.fixture
def acme() -> Iterator[AcmeSandbox]:
    """The example's own Acme sandbox on a free loopback port."""
    with AcmeSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDistributions]:
    """Broken plugins installed beside acme, for this process and subprocesses."""
    fake = FakeDistributions(tmp_path / "site", monkeypatch)
    fake.add("broken-plugin", {"broken": "tp_broken"}, {"tp_broken": BROKEN_IMPORT})
    fake.add("halfway-plugin", {"halfway": "tp_halfway"}, {"tp_halfway": BROKEN_HOOK})
    yield fake
    fake.forget()


def acme_auth(acme: AcmeSandbox, **changes: str) -> PasswordAuth:
    options = {
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "tenant": DEMO_TENANT,
        "base_url": acme.url,
        **changes,
    }
    return get_auth("acme", **options)


def run(command: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command from this environment's bin folder; stdin is not a terminal."""
    return subprocess.run(
        [str(BIN / command), *args],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def http_acme(acme: AcmeSandbox, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``http --auth-type acme`` against the sandbox, tenant and base URL from the environment."""
    return run(
        "http",
        "--ignore-stdin",
        "--body",
        "--auth-type",
        "acme",
        *args,
        ACME_BASE_URL=acme.url,
        ACME_TENANT=DEMO_TENANT,
        **env,
    )


# -- installed --------------------------------------------------------------------------


def test_the_example_is_installed_as_a_plugin_for_both_hosts() -> None:
    entry_points = importlib.metadata.distribution("acme-auth").entry_points
    groups = {(ep.group, ep.name): ep.value for ep in entry_points}
    assert groups[("auth_plugins", "acme")] == "acme_auth.vendor"
    assert groups[("httpie.plugins.auth.v1", "acme")] == "acme_auth.httpie:AcmePlugin"
    entry = host.get_vendor("acme")
    assert entry.vendor is ACME
    assert entry.source == ACME_SOURCE


def test_the_module_httpie_imports_on_every_run_loads_no_vendor_code() -> None:
    # HTTPie imports every auth plugin on every run, `http --version` included.
    code = (
        "import sys, acme_auth.httpie as h; "
        "assert h.AcmePlugin.auth_type == 'acme'; "
        "print([m for m in ('pluggy', 'auth_plugins.vendor', 'acme_auth.vendor', "
        "'auth_plugins.plugins') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


# -- from requests ------------------------------------------------------------------------


def test_one_login_serves_many_calls(acme: AcmeSandbox) -> None:
    auth = acme_auth(acme)
    with requests.Session() as session:
        session.auth = auth
        for _ in range(5):
            assert session.get(acme.url + "/whoami").json() == {
                "login": DEMO_USERNAME,
                "tenant": DEMO_TENANT,
            }
        created = session.post(acme.url + "/anvils", json={"weight_kg": 90})
    assert created.status_code == 201
    assert created.json() == {"created": {"weight_kg": 90}}
    assert acme.logins() == 1
    assert acme.api_calls() == 6
    # The first call went out without a token (the login then used its connection).
    probe, login, *calls = acme.received
    assert probe.path.endswith("/whoami")
    assert "X-Acme-Token" not in probe.headers
    assert json.loads(login.body) == {
        "login": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "tenant": DEMO_TENANT,
    }
    # The declared headers, filled from the token and the tenant option.
    assert auth.token is not None
    token = auth.token.access_token
    for call in calls:
        assert call.headers["X-Acme-Token"] == token
        assert call.headers["X-Acme-Tenant"] == DEMO_TENANT
    # The token's life comes from the answer's session.expires_in.
    assert auth.token.expires_in() == pytest.approx(900, abs=5)


def test_an_expired_session_logs_in_again_on_419(acme: AcmeSandbox) -> None:
    auth = acme_auth(acme)
    assert requests.get(acme.url + "/whoami", auth=auth).status_code == 200
    acme.expire_tokens()
    response = requests.post(acme.url + "/anvils", json={"n": 1}, auth=auth)
    assert response.status_code == 201
    assert [r.status_code for r in response.history] == [419]
    assert response.json() == {"created": {"n": 1}}  # the body was sent again
    assert acme.logins() == 2


def test_a_revoked_session_logs_in_again_through_the_code_hook(acme: AcmeSandbox) -> None:
    auth = acme_auth(acme)
    assert requests.get(acme.url + "/whoami", auth=auth).status_code == 200
    acme.revoke_tokens()
    response = requests.get(acme.url + "/anvils", auth=auth)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [403]
    assert response.history[0].json()["code"] == "session_revoked"
    assert acme.logins() == 2


def test_other_403_answers_are_not_a_reason_to_log_in_again(acme: AcmeSandbox) -> None:
    auth = acme_auth(acme)
    token = auth.get_token().access_token
    wrong_tenant = requests.get(
        acme.url + "/whoami", headers={"X-Acme-Token": token, "X-Acme-Tenant": "tundra"}
    )
    assert wrong_tenant.status_code == 403
    assert ACME.token_rejected_hook is not None
    assert ACME.token_rejected_hook(api_answer(wrong_tenant)) is False
    acme.revoke_tokens()
    revoked = requests.get(acme.url + "/whoami", headers={"X-Acme-Token": token})
    assert ACME.token_rejected_hook(api_answer(revoked)) is True


def test_a_wrong_password_costs_one_login_attempt(acme: AcmeSandbox) -> None:
    auth = acme_auth(acme, password="not-the-password")
    for _ in range(2):
        with pytest.raises(InvalidCredentials) as caught:
            requests.get(acme.url + "/whoami", auth=auth)
        assert "Acme login failed: HTTP 401" in str(caught.value)
        assert "bad_credentials" in str(caught.value)
        assert "not-the-password" not in str(caught.value)
    assert acme.login_attempts() == 1


def test_settings_come_from_acme_environment_variables(
    acme: AcmeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_USERNAME", DEMO_USERNAME)
    monkeypatch.setenv("ACME_PASSWORD", DEMO_PASSWORD)
    monkeypatch.setenv("ACME_BASE_URL", acme.url)
    with pytest.raises(ConfigError, match=r"Acme needs your Acme tenant.*ACME_TENANT"):
        get_auth("acme")
    monkeypatch.setenv("ACME_TENANT", DEMO_TENANT)
    assert requests.get(acme.url + "/whoami", auth=get_auth("acme")).status_code == 200
    assert acme.logins(DEMO_USERNAME) == 1


# -- the listing, and which plugins load ------------------------------------------------------


def vendors_listing(capsys: pytest.CaptureFixture[str]) -> str:
    host.reset_for_tests()
    assert cli_main(["vendors"]) == 0
    return capsys.readouterr().out


def test_auth_plugins_vendors_lists_acme_with_its_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = vendors_listing(capsys)
    assert f"acme: Acme API (example plugin): login, password and tenant [{ACME_SOURCE}]" in listing
    assert "ACME_TENANT" in listing
    monkeypatch.setenv("AUTH_PLUGINS_LOAD", "")
    listing = vendors_listing(capsys)
    assert "acme" not in listing
    assert "teamup: " in listing
    assert "up2money: " in listing
    monkeypatch.setenv("AUTH_PLUGINS_LOAD", "acme")
    assert f"[{ACME_SOURCE}]" in vendors_listing(capsys)


def test_the_auth_plugins_command_lists_acme() -> None:
    done = run("auth-plugins", "vendors")
    assert done.returncode == 0, done.stderr
    assert "acme: Acme API (example plugin)" in done.stdout
    assert f"[{ACME_SOURCE}]" in done.stdout
    assert done.stderr == ""


# -- from HTTPie ----------------------------------------------------------------------------


def test_http_auth_type_acme_logs_in_once_across_runs(acme: AcmeSandbox) -> None:
    first = http_acme(acme, "-a", f"{DEMO_USERNAME}:{DEMO_PASSWORD}", acme.url + "/whoami")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"login": DEMO_USERNAME, "tenant": DEMO_TENANT}
    # No password this time: the token kept from the first run does.
    second = http_acme(acme, "-a", DEMO_USERNAME, acme.url + "/anvils")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["anvils"]
    assert acme.logins() == 1
    assert acme.api_calls() == 2


# -- broken plugins beside acme -----------------------------------------------------------


def test_broken_plugins_beside_acme_are_warnings_in_process(
    acme: AcmeSandbox, dists: FakeDistributions
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auth = acme_auth(acme)
    problems = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert len(problems) == 2
    assert any("plugin broken (broken-plugin 0.0.0) failed to load" in p for p in problems)
    assert any("plugin halfway (halfway-plugin 0.0.0) failed to register" in p for p in problems)
    assert requests.get(acme.url + "/whoami", auth=auth).status_code == 200
    assert {"acme", "teamup", "up2money"} <= set(host.available_vendors())


def test_broken_plugins_beside_acme_are_warnings_for_http(
    acme: AcmeSandbox, dists: FakeDistributions
) -> None:
    done = http_acme(acme, "-a", f"{DEMO_USERNAME}:{DEMO_PASSWORD}", acme.url + "/whoami")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["login"] == DEMO_USERNAME
    assert "plugin broken (broken-plugin 0.0.0) failed to load" in done.stderr
    assert "plugin halfway (halfway-plugin 0.0.0) failed to register" in done.stderr
    assert acme.logins() == 1


def test_strict_mode_makes_a_broken_plugin_an_error_for_http(
    acme: AcmeSandbox, dists: FakeDistributions
) -> None:
    done = http_acme(
        acme,
        "-a",
        f"{DEMO_USERNAME}:{DEMO_PASSWORD}",
        acme.url + "/whoami",
        AUTH_PLUGINS_STRICT="1",
    )
    assert done.returncode != 0
    assert "plugin broken (broken-plugin 0.0.0) failed to load" in done.stderr
    assert "AUTH_PLUGINS_STRICT" in done.stderr
    assert DEMO_PASSWORD not in done.stderr
    assert acme.login_attempts() == 0
