"""The ``auth-plugins`` command: vendors, token, logout, sandbox, help and errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from auth_plugins import FileTokenStore
from auth_plugins.cli import main
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.stores import TokenKey
from auth_plugins.tokens import Token

COMMAND = str(Path(sys.executable).parent / "auth-plugins")


@pytest.fixture(autouse=True)
def vendor_settings(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's settings in the environment; no terminal to prompt on."""
    monkeypatch.setenv("TEAMUP_BASE_URL", sandbox.teamup_url)
    monkeypatch.setenv("TEAMUP_DIRECT_AUTH_KEY", DEMO_TEAMUP_DIRECT_AUTH_KEY)
    monkeypatch.setenv("UP2MONEY_BASE_URL", sandbox.up2money_url)
    monkeypatch.setenv("UP2MONEY_SECRET", DEMO_UP2MONEY_SECRET)
    monkeypatch.setattr(sys, "stdin", io.StringIO())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("auth-plugins: error: ")
    return lines[0]


def token_files() -> list[Path]:
    return sorted(Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).glob("*.json"))


# -- vendors -------------------------------------------------------------------------------


def test_vendors_lists_both_with_their_source_and_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "vendors")
    assert status == 0
    lines = out.splitlines()
    assert any(line.startswith("teamup: ") and line.endswith("[built-in]") for line in lines)
    assert any(line.startswith("up2money: ") and line.endswith("[built-in]") for line in lines)
    for variable in (
        "TEAMUP_DIRECT_AUTH_KEY",
        "TEAMUP_PASSWORD",
        "UP2MONEY_EMAIL",
        "UP2MONEY_SECRET",
    ):
        assert variable in out


# -- token ---------------------------------------------------------------------------------


def test_token_prints_a_working_token_and_reuses_it(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_USERNAME", DEMO_TEAMUP_USERNAME)
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    status, out, err = run(capsys, "token", "teamup")
    assert status == 0, err
    token = out.strip()
    assert token
    assert out.count("\n") == 1  # just the token, for $(auth-plugins token teamup)
    # As curl would use it.
    answer = requests.get(
        f"{sandbox.teamup_url}/customers", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200

    status, again, _ = run(capsys, "token", "teamup")
    assert status == 0
    assert again == out
    assert sandbox.logins("teamup") == 1
    assert len(token_files()) == 1


def test_token_for_up2money_with_the_user_as_an_option(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UP2MONEY_PASSWORD", DEMO_UP2MONEY_PASSWORD)
    status, out, err = run(capsys, "token", "up2money", "--user", DEMO_UP2MONEY_EMAIL)
    assert status == 0, err
    answer = requests.get(
        f"{sandbox.up2money_url}/managed_accounts",
        headers={"x-secret": DEMO_UP2MONEY_SECRET, "Authorization-key": out.strip()},
        timeout=10,
    )
    assert answer.status_code == 200
    assert sandbox.logins("up2money", DEMO_UP2MONEY_EMAIL) == 1


def test_token_cache_off_logs_in_each_time(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_CACHE", "off")
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    for _ in range(2):
        assert run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)[0] == 0
    assert sandbox.logins("teamup") == 2
    assert token_files() == []


def test_token_without_a_password_or_terminal(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)
    assert status == 1
    assert out == ""
    line = one_error_line(err)
    assert "TEAMUP_PASSWORD" in line
    assert "run in a terminal to be asked" in line
    assert sandbox.login_attempts("teamup") == 0


def test_token_without_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "token", "up2money")
    assert status == 1
    line = one_error_line(err)
    assert "--user USER" in line
    assert "UP2MONEY_EMAIL" in line


def test_token_with_a_wrong_password(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-password-77"
    monkeypatch.setenv("TEAMUP_PASSWORD", wrong)
    status, out, err = run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)
    assert status == 1
    assert out == ""
    line = one_error_line(err)
    assert "TeamUp login failed: HTTP 401" in line
    assert "Check the username and password (--user USER, TEAMUP_PASSWORD)" in line
    assert wrong not in err
    assert sandbox.login_attempts("teamup") == 1


def test_token_with_a_missing_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEAMUP_DIRECT_AUTH_KEY")
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    status, _, err = run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)
    assert status == 1
    assert "TEAMUP_DIRECT_AUTH_KEY" in one_error_line(err)


def test_token_two_factor_without_a_terminal_names_the_variable(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_TWO_FACTOR_PASSWORD)
    status, _, err = run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_TWO_FACTOR_USERNAME)
    assert status == 1
    line = one_error_line(err)
    assert "two-factor" in line
    assert "TEAMUP_VERIFICATION_KEY" in line


def test_token_for_an_unknown_vendor(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "token", "nosuch")
    assert status == 1
    line = one_error_line(err)
    assert "no vendor named 'nosuch'" in line
    assert "teamup" in line
    assert "up2money" in line


# -- logout --------------------------------------------------------------------------------


def test_logout_deletes_one_vendors_tokens_or_all(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    monkeypatch.setenv("UP2MONEY_PASSWORD", DEMO_UP2MONEY_PASSWORD)
    assert run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)[0] == 0
    assert run(capsys, "token", "up2money", "-u", DEMO_UP2MONEY_EMAIL)[0] == 0
    assert len(token_files()) == 2

    status, out, _ = run(capsys, "logout", "teamup")
    assert status == 0
    assert out.startswith("removed 1 stored token(s) from ")
    assert [path.name.split("-")[0] for path in token_files()] == ["up2money"]
    # Logged out: the next token call logs in again.
    assert run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)[0] == 0
    assert sandbox.logins("teamup") == 2

    status, out, _ = run(capsys, "logout")
    assert status == 0
    assert out.startswith("removed 2 stored token(s)")
    assert token_files() == []
    # Nothing of the logged-out users is left: no lock, no record, no index entry.
    assert sorted(Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).iterdir()) == []


def test_logout_of_an_unknown_vendor_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([COMMAND, "logout", "nosuch"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "no vendor named 'nosuch'" in line
    assert "teamup" in line
    assert "up2money" in line


def test_logout_of_an_uninstalled_vendor_with_stored_tokens_clears_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = FileTokenStore()
    store.save(TokenKey("gone", "https://gone.example", "alice"), Token("t"))
    status, out, _ = run(capsys, "logout", "gone")
    assert status == 0
    assert out.startswith("removed 1 stored token(s)")


def test_logout_removes_lock_files_a_killed_process_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = FileTokenStore()
    key = TokenKey("teamup", "https://x.example", "alice")
    store.save(key, Token("t"))
    store._side_path(key, "lock").write_bytes(b"")  # as a process killed while holding it
    store._side_path(key, "lock").chmod(0o600)
    store._side_path(key, "attempts").write_bytes(b"{}")
    assert run(capsys, "logout", "teamup")[0] == 0
    assert sorted(Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).iterdir()) == []


# -- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["sandbox", "vendors", "token", "logout", "delete stored tokens"]),
        (["vendors", "--help"], ["usage: auth-plugins vendors"]),
        (["token", "--help"], ["usage: auth-plugins token", "--user"]),
        (["logout", "--help"], ["usage: auth-plugins logout"]),
        (["sandbox", "--help"], ["usage: auth-plugins sandbox", "--port"]),
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_console_script() -> None:
    done = subprocess.run([COMMAND, "token", "nosuch"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("auth-plugins: error: no vendor named 'nosuch'")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
