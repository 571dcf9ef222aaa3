"""HTTPie ``--auth-type teamup`` / ``up2money``: the real ``http`` command and ``httpie.core.main``.

The sandbox runs in this process; ``http`` subprocesses reach it on loopback.
A subprocess costs most of a second (HTTPie's own start-up), so behaviour
that does not depend on being a separate process runs through
``httpie.core.main`` in this process, which goes through the same argument
parsing, session and error handling.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from netservers import ForwardProxy

from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

HTTP = str(Path(sys.executable).parent / "http")
TEAMUP_USER = f"{DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}"
UP2MONEY_USER = f"{DEMO_UP2MONEY_EMAIL}:{DEMO_UP2MONEY_PASSWORD}"


def test_the_http_command_is_installed_beside_this_python() -> None:
    # Not a skip: under the README's test command a missing part is a failure.
    assert Path(HTTP).exists(), f"{HTTP} is missing: install the package with its [httpie] extra"


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def vendor_settings(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """The sandbox's settings in this process's environment; no terminal; no ~/.netrc."""
    settings = {
        "TEAMUP_BASE_URL": sandbox.teamup_url,
        "TEAMUP_DIRECT_AUTH_KEY": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "UP2MONEY_BASE_URL": sandbox.up2money_url,
        "UP2MONEY_SECRET": DEMO_UP2MONEY_SECRET,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    # Whatever runs the tests, this process has no terminal to prompt on.
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    return settings


def child_env(**changes: str | None) -> dict[str, str]:
    """The environment for an ``http`` subprocess, every setting it needs given explicitly."""
    env = dict(os.environ)
    for name in (
        "TEAMUP_BASE_URL",
        "TEAMUP_DIRECT_AUTH_KEY",
        "UP2MONEY_BASE_URL",
        "UP2MONEY_SECRET",
        "AUTH_PLUGINS_CACHE_DIR",
        "HTTPIE_CONFIG_DIR",
        "HOME",
    ):
        env[name] = os.environ[name]
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_http(*args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """The real ``http`` command, stdin ignored (it is not a terminal here)."""
    return subprocess.run(
        [HTTP, "--ignore-stdin", *args],
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def httpie(*args: str) -> tuple[int, str, str]:
    """``httpie.core.main`` in this process: (exit status, stdout, stderr)."""
    from httpie.context import Environment
    from httpie.core import main

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    env = Environment(
        stdin=None,
        stdin_isatty=False,
        stdout=stdout,
        stdout_isatty=False,
        stderr=stderr,
        stderr_isatty=False,
        config_dir=Path(os.environ["HTTPIE_CONFIG_DIR"]),
    )
    status = main(["http", *args], env)
    texts = []
    for stream in (stdout, stderr):
        stream.flush()
        buffer = stream.buffer
        assert isinstance(buffer, io.BytesIO)
        texts.append(buffer.getvalue().decode())
    return int(status), texts[0], texts[1]


#: Run by the child: become the session leader whose controlling terminal is the pty
#: (opened by name, so the kernel attaches it), then exec http with stdin and stderr on it.
LAUNCH_IN_TERMINAL = """
import os, signal, sys
# Ctrl-C reaches the command as it would from a shell: whatever the test process had
# blocked or ignored (a mask and SIG_IGN survive fork and exec) is not passed on.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
signal.signal(signal.SIGINT, signal.SIG_DFL)
fd = os.open(sys.argv[1], os.O_RDWR)
os.dup2(fd, 0)
os.dup2(fd, 2)
os.execv(sys.argv[2], sys.argv[2:])
"""


def run_in_terminal(
    args: Sequence[str], answers: Sequence[tuple[str, str]], **env: str | None
) -> tuple[int, str, str]:
    """``http`` with stdin and stderr on a pseudo-terminal, answering prompts as they appear.

    Returns (exit status, stdout, what the terminal showed). Fails if a prompt
    in ``answers`` does not appear in time.
    """
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH_IN_TERMINAL, os.ttyname(slave), HTTP, *args],
            env=child_env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        shown = b""
        answered_up_to = 0
        pending = list(answers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    shown += os.read(master, 4096)
                except OSError:  # the terminal closed
                    break
                if pending and pending[0][0].encode() in shown[answered_up_to:]:
                    os.write(master, pending.pop(0)[1].encode() + b"\n")
                    answered_up_to = len(shown)
            elif process.poll() is not None:
                break
        else:
            process.kill()
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        status = process.wait(timeout=10)
        terminal = shown.decode(errors="replace")
        assert not pending, f"prompt {pending[0][0]!r} never appeared; terminal showed {terminal!r}"
        return status, stdout, terminal
    finally:
        os.close(master)
        os.close(slave)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def cache_files(suffix: str = ".json") -> list[Path]:
    return sorted(Path(os.environ["AUTH_PLUGINS_CACHE_DIR"]).glob(f"*{suffix}"))


# -- the real command ----------------------------------------------------------------------


def test_teamup_through_http_logs_in_once_across_runs(sandbox: Sandbox) -> None:
    url = f"{sandbox.teamup_url}/customers"
    first = run_http("--auth-type", "teamup", "-a", TEAMUP_USER, url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["count"] == 2
    second = run_http("-A", "teamup", "-a", TEAMUP_USER, url)
    assert second.returncode == 0, second.stderr
    assert sandbox.logins("teamup") == 1
    assert sandbox.api_calls("teamup") == 2

    cache = Path(os.environ["AUTH_PLUGINS_CACHE_DIR"])
    [token_file] = cache_files()
    assert cache.stat().st_mode & 0o777 == 0o700
    for path in cache.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    text = token_file.read_text()
    assert DEMO_TEAMUP_PASSWORD not in text
    assert DEMO_TEAMUP_DIRECT_AUTH_KEY not in text


def test_up2money_through_http_logs_in_once_across_runs(sandbox: Sandbox) -> None:
    url = f"{sandbox.up2money_url}/managed_accounts"
    for _ in range(2):
        done = run_http("--auth-type", "up2money", "-a", UP2MONEY_USER, url)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["count"] == 1
    assert sandbox.logins("up2money") == 1
    assert sandbox.api_calls("up2money") == 2
    [token_file] = cache_files()
    assert DEMO_UP2MONEY_PASSWORD not in token_file.read_text()
    assert DEMO_UP2MONEY_SECRET not in token_file.read_text()


def test_http_help_describes_both_auth_types() -> None:
    done = subprocess.run(
        [HTTP, "--help"], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert '"teamup": ' in done.stdout
    assert '"up2money": ' in done.stdout
    assert "TEAMUP_DIRECT_AUTH_KEY" in done.stdout
    assert "UP2MONEY_SECRET" in done.stdout
    # Every entry point loads: no plugin warning on stderr.
    assert "error occurred" not in done.stderr


def test_several_http_runs_started_together_make_one_login(sandbox: Sandbox) -> None:
    # A slow login keeps the first run inside its lock while the others arrive.
    sandbox.teamup.config.login_delay = 0.5
    url = f"{sandbox.teamup_url}/customers"
    runs = [
        subprocess.Popen(
            [HTTP, "--ignore-stdin", "-A", "teamup", "-a", TEAMUP_USER, url],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for run in runs:
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
        assert json.loads(stdout)["count"] == 2
    assert sandbox.logins("teamup") == 1
    assert sandbox.api_calls("teamup") == 4


def test_user_alone_prompts_for_the_password_at_a_terminal(sandbox: Sandbox) -> None:
    status, stdout, terminal = run_in_terminal(
        ["-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/customers"],
        [(f"TeamUp password for {DEMO_TEAMUP_USERNAME}: ", DEMO_TEAMUP_PASSWORD)],
    )
    assert status == 0, terminal
    assert json.loads(stdout)["count"] == 2
    assert DEMO_TEAMUP_PASSWORD not in terminal  # typed without echo
    assert sandbox.logins("teamup") == 1

    # The token is kept: the same command with no terminal needs no password.
    assert (
        httpie("-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/customers")[0]
        == 0
    )
    assert sandbox.logins("teamup") == 1


def test_teamup_two_factor_at_a_terminal(sandbox: Sandbox) -> None:
    status, stdout, terminal = run_in_terminal(
        [
            "-A",
            "teamup",
            "-a",
            f"{DEMO_TEAMUP_TWO_FACTOR_USERNAME}:{DEMO_TEAMUP_TWO_FACTOR_PASSWORD}",
            f"{sandbox.teamup_url}/customers",
        ],
        [
            ("Phone number for the SMS code: ", DEMO_TEAMUP_TWO_FACTOR_PHONE),
            ("SMS code: ", DEMO_SMS_CODE),
        ],
    )
    assert status == 0, terminal
    assert "two-factor" in terminal
    assert json.loads(stdout)["count"] == 2
    assert sandbox.logins("teamup", DEMO_TEAMUP_TWO_FACTOR_USERNAME) == 1


def test_teamup_two_factor_without_a_terminal_names_the_variable(sandbox: Sandbox) -> None:
    status, _, stderr = httpie(
        "-A",
        "teamup",
        "-a",
        f"{DEMO_TEAMUP_TWO_FACTOR_USERNAME}:{DEMO_TEAMUP_TWO_FACTOR_PASSWORD}",
        f"{sandbox.teamup_url}/customers",
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert line.startswith("http: error: TwoFactorRequired: TeamUp wants a two-factor login")
    assert "TEAMUP_VERIFICATION_KEY" in line
    assert "auth.start_two_factor" not in line  # advice for http users, not Python callers
    assert sandbox.api_calls("teamup") == 0


def test_wrong_password_is_one_line_without_traceback_or_secret(sandbox: Sandbox) -> None:
    wrong = "not-the-password-42"
    done = run_http(
        "-A", "teamup", "-a", f"{DEMO_TEAMUP_USERNAME}:{wrong}", f"{sandbox.teamup_url}/customers"
    )
    assert done.returncode == 1
    [line] = error_lines(done.stderr)
    assert line.startswith("http: error: InvalidCredentials: TeamUp login failed: HTTP 401")
    assert "Check the username and password" in line
    assert "while doing" not in line  # not the login call's URL as if it were the user's
    assert "Traceback" not in done.stderr
    for secret in (wrong, DEMO_TEAMUP_DIRECT_AUTH_KEY):
        assert secret not in done.stderr + done.stdout
    assert done.stdout == ""
    assert sandbox.login_attempts("teamup") == 1


def test_debug_output_shows_no_password_token_or_secret(sandbox: Sandbox) -> None:
    teamup = run_http(
        "--debug", "-A", "teamup", "-a", TEAMUP_USER, f"{sandbox.teamup_url}/customers"
    )
    assert teamup.returncode == 0, teamup.stderr
    assert "<auth-plugins teamup auth for alice@example.com, password=***>" in teamup.stderr
    up2money = run_http(
        "--debug", "-A", "up2money", "-a", UP2MONEY_USER, f"{sandbox.up2money_url}/managed_accounts"
    )
    assert up2money.returncode == 0, up2money.stderr
    tokens = [json.loads(path.read_text())["token"] for path in cache_files()]
    assert len(tokens) == 2
    secrets = [
        DEMO_TEAMUP_PASSWORD,
        DEMO_TEAMUP_DIRECT_AUTH_KEY,
        DEMO_UP2MONEY_PASSWORD,
        DEMO_UP2MONEY_SECRET,
        *(token["access_token"] for token in tokens),
        *(token["refresh_token"] for token in tokens if token["refresh_token"]),
    ]
    for secret in secrets:
        assert secret not in teamup.stdout + teamup.stderr
        assert secret not in up2money.stdout + up2money.stderr


def test_importing_the_plugin_module_loads_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "import auth_plugins.httpie_plugin\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "auth_plugins.httpie_plugin" in loaded
    heavy = {
        "pluggy",
        "auth_plugins.plugins",
        "auth_plugins.vendors",
        "auth_plugins.auth",
        "auth_plugins.stores",
        "auth_plugins.cli",
        "filelock",
        "platformdirs",
    }
    assert not heavy & loaded


def http_teamup_modules(url: str, tmp_path: Path) -> tuple[int, list[str]]:
    """Run ``http -A teamup`` for ``url`` in a fresh interpreter: its exit status and the
    modules it had imported by the end."""
    report = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "from httpie.core import main\n"
        "args = ['http', '--ignore-stdin', '--check-status', '-A', 'teamup', '-a', sys.argv[1],"
        " sys.argv[2]]\n"
        "status = main(args)\n"
        "open(sys.argv[3], 'w').write(json.dumps([int(status), sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, TEAMUP_USER, url, str(report)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    status, loaded = json.loads(report.read_text())
    return int(status), list(loaded)


def test_a_run_with_a_cached_token_imports_nothing_only_a_login_needs(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # What `http -A teamup` with a token in the cache pays for: the token file
    # and TeamUp's header templates (auth_plugins.adapters.httpie_cached), not
    # the auth that would log in: no pluggy (the plugin host), no lock library,
    # no platformdirs, not the auth-plugins command (argparse), no settings,
    # renewal, store objects or errors (issue 15: within 2% of typing the
    # headers by hand).
    url = f"{sandbox.teamup_url}/customers"
    assert run_http("-A", "teamup", "-a", TEAMUP_USER, url).returncode == 0
    status, loaded = http_teamup_modules(url, tmp_path)
    assert status == 0
    assert {"auth_plugins.adapters.httpie_cached", "auth_plugins.vendors.teamup_vendor"} <= set(
        loaded
    )
    unwanted = {
        "auth_plugins.auth",
        "auth_plugins.builtin",
        "auth_plugins.vendors.teamup",
        "auth_plugins.core.errors",
        "auth_plugins.core.renewal",
        "auth_plugins.core.settings",
        "auth_plugins.core.secrets",
        "auth_plugins.stores.base",
        "auth_plugins.stores.file",
        "auth_plugins.adapters.requests",
        "pluggy",
        "filelock",
        "platformdirs",
        "auth_plugins.plugins",
        "auth_plugins.cli",
        "auth_plugins.stores.lockfile",
        "auth_plugins.stores.index",
        "auth_plugins.core.exchange",
        "auth_plugins.core.answers",
        "auth_plugins.core.failures",
        "auth_plugins.core.secret_command",
        "auth_plugins.adapters.requests_send",
    }
    assert sorted(unwanted & set(loaded)) == []
    assert sandbox.logins("teamup") == 1


def test_a_run_that_logs_in_to_a_builtin_vendor_starts_no_plugin_host(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """``http -A teamup`` with no cached token builds TeamUp's auth from the built-in
    vendors: the plugin host (pluggy, the entry points) is loaded only for a plugin's."""
    url = f"{sandbox.teamup_url}/customers"
    status, loaded = http_teamup_modules(url, tmp_path)
    assert status == 0
    assert "auth_plugins.auth" in loaded  # it did build the auth and log in
    assert sorted({"pluggy", "auth_plugins.plugins"} & set(loaded)) == []
    assert sandbox.logins("teamup") == 1


# -- httpie.core.main in this process ------------------------------------------------------


def test_credentials_from_the_environment(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_USERNAME", DEMO_TEAMUP_USERNAME)
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    monkeypatch.setenv("UP2MONEY_EMAIL", DEMO_UP2MONEY_EMAIL)
    monkeypatch.setenv("UP2MONEY_PASSWORD", DEMO_UP2MONEY_PASSWORD)
    status, stdout, stderr = httpie("-A", "teamup", f"{sandbox.teamup_url}/customers")
    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    status, stdout, stderr = httpie("-A", "up2money", f"{sandbox.up2money_url}/managed_accounts")
    assert status == 0, stderr
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1
    assert sandbox.logins("up2money", DEMO_UP2MONEY_EMAIL) == 1


def test_password_from_the_environment_with_the_user_in_a(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    status, _, stderr = httpie(
        "-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, f"{sandbox.teamup_url}/customers"
    )
    assert status == 0, stderr
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1


def test_env_password_is_not_sent_for_another_user(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TEAMUP_PASSWORD belongs to TEAMUP_USERNAME; -a names someone else.
    monkeypatch.setenv("TEAMUP_USERNAME", DEMO_TEAMUP_USERNAME)
    monkeypatch.setenv("TEAMUP_PASSWORD", DEMO_TEAMUP_PASSWORD)
    status, _, stderr = httpie(
        "-A", "teamup", "-a", "bob@example.com", f"{sandbox.teamup_url}/customers"
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert "needs the password of bob@example.com" in line
    assert "TEAMUP_PASSWORD" in line
    assert sandbox.login_attempts("teamup") == 0


def test_credentials_from_netrc_for_the_api_host(sandbox: Sandbox, tmp_path: Path) -> None:
    netrc = Path(os.environ["HOME"]) / ".netrc"
    netrc.write_text(
        f"machine 127.0.0.1\nlogin {DEMO_TEAMUP_USERNAME}\npassword {DEMO_TEAMUP_PASSWORD}\n"
    )
    netrc.chmod(0o600)
    status, _stdout, stderr = httpie("-A", "teamup", f"{sandbox.teamup_url}/customers")
    assert status == 0, stderr
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1
    # --ignore-netrc is honoured: no user at all then.
    status, _, stderr = httpie("--ignore-netrc", "-A", "teamup", f"{sandbox.teamup_url}/customers")
    assert status == 1
    assert "TEAMUP_USERNAME" in stderr


def test_missing_setting_is_one_line_naming_the_variable(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEAMUP_DIRECT_AUTH_KEY")
    status, stdout, stderr = httpie(
        "-A", "teamup", "-a", TEAMUP_USER, f"{sandbox.teamup_url}/customers"
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert line.startswith("http: error: ConfigError: TeamUp needs")
    assert "TEAMUP_DIRECT_AUTH_KEY" in line
    assert stdout == ""

    monkeypatch.delenv("UP2MONEY_SECRET")
    status, _, stderr = httpie(
        "-A", "up2money", "-a", UP2MONEY_USER, f"{sandbox.up2money_url}/managed_accounts"
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert "UP2MONEY_SECRET" in line
    assert sandbox.login_attempts("teamup") + sandbox.login_attempts("up2money") == 0


def test_no_user_anywhere_is_one_line(sandbox: Sandbox) -> None:
    status, _, stderr = httpie("-A", "up2money", f"{sandbox.up2money_url}/managed_accounts")
    assert status == 1
    [line] = error_lines(stderr)
    assert "-a USER[:PASSWORD]" in line
    assert "UP2MONEY_EMAIL" in line


def test_failed_relogin_after_a_rejected_token_is_one_line(sandbox: Sandbox) -> None:
    url = f"{sandbox.teamup_url}/customers"
    assert httpie("-A", "teamup", "-a", TEAMUP_USER, url)[0] == 0
    # The stored token is revoked and the password changed meanwhile: the
    # re-login happens in the response hook, and fails there.
    sandbox.revoke_tokens("teamup")
    sandbox.teamup.config.users[DEMO_TEAMUP_USERNAME].password = "changed-elsewhere"
    status, _stdout, stderr = httpie("-A", "teamup", "-a", TEAMUP_USER, url)
    assert status == 1
    [line] = error_lines(stderr)
    assert line.startswith("http: error: InvalidCredentials: TeamUp login failed: HTTP 401")
    assert "while doing" not in line
    assert sandbox.login_attempts("teamup") == 2


def test_token_cache_off_logs_in_on_every_run(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_CACHE", "off")
    for _ in range(2):
        assert httpie("-A", "teamup", "-a", TEAMUP_USER, f"{sandbox.teamup_url}/customers")[0] == 0
    assert sandbox.logins("teamup") == 2
    assert cache_files() == []


def test_session_file_keeps_the_user_name_not_the_password(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    session = tmp_path / "session.json"
    url = f"{sandbox.teamup_url}/customers"
    status, _, stderr = httpie("--session", str(session), "-A", "teamup", "-a", TEAMUP_USER, url)
    assert status == 0, stderr
    text = session.read_text()
    assert DEMO_TEAMUP_PASSWORD not in text
    saved = json.loads(text)["auth"]
    assert saved == {"type": "teamup", "raw_auth": DEMO_TEAMUP_USERNAME}
    tokens = [json.loads(path.read_text())["token"]["access_token"] for path in cache_files()]
    assert tokens
    assert tokens[0] not in text

    # A later run with the session and no password anywhere: the stored token does.
    status, stdout, stderr = httpie("--session", str(session), url)
    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    assert sandbox.logins("teamup") == 1
    assert DEMO_TEAMUP_PASSWORD not in session.read_text()


def test_session_with_credentials_from_the_environment(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UP2MONEY_EMAIL", DEMO_UP2MONEY_EMAIL)
    monkeypatch.setenv("UP2MONEY_PASSWORD", DEMO_UP2MONEY_PASSWORD)
    session = tmp_path / "session.json"
    url = f"{sandbox.up2money_url}/managed_accounts"
    assert httpie("--session", str(session), "-A", "up2money", url)[0] == 0
    assert json.loads(session.read_text())["auth"] == {"type": "up2money", "raw_auth": ""}
    monkeypatch.delenv("UP2MONEY_PASSWORD")
    status, _, stderr = httpie("--session", str(session), url)
    assert status == 0, stderr
    assert sandbox.logins("up2money") == 1
    assert sandbox.api_calls("up2money") == 2


def test_auth_type_auth_plugins_picks_the_vendor_by_url(sandbox: Sandbox) -> None:
    status, stdout, stderr = httpie(
        "-A", "auth-plugins", "-a", TEAMUP_USER, f"{sandbox.teamup_url}/customers"
    )
    assert status == 0, stderr
    assert json.loads(stdout)["count"] == 2
    status, stdout, stderr = httpie(
        "-A", "auth-plugins", "-a", UP2MONEY_USER, f"{sandbox.up2money_url}/managed_accounts"
    )
    assert status == 0, stderr
    assert sandbox.logins("teamup") == 1
    assert sandbox.logins("up2money") == 1

    status, _, stderr = httpie("-A", "auth-plugins", "-a", TEAMUP_USER, f"{sandbox.url}/elsewhere")
    assert status == 1
    [line] = error_lines(stderr)
    assert "no installed vendor has a base URL" in line
    assert sandbox.teamup_url in line


def test_auth_type_auth_plugins_compares_a_base_url_as_written(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a trailing "/" of a vendor's base URL is dropped before the comparison: one
    ending in "X" picks its vendor for the URLs under it."""
    monkeypatch.setenv("TEAMUP_BASE_URL", f"{sandbox.url}/apiX/")
    status, _, stderr = httpie("-A", "auth-plugins", "-a", TEAMUP_USER, f"{sandbox.url}/apiX/me")
    # TeamUp's auth took the request and logged in under that base URL (where the
    # sandbox serves no TeamUp: a 404), not "no installed vendor has a base URL ...".
    assert status == 1
    [line] = error_lines(stderr)
    assert line.startswith("http: error: LoginError: TeamUp login failed: HTTP 404 Not Found")


def test_debug_repr_of_the_auth_hides_the_password() -> None:
    from auth_plugins.httpie_plugin import TeamUpPlugin

    auth = TeamUpPlugin().get_auth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    assert DEMO_TEAMUP_PASSWORD not in repr(auth)
    assert DEMO_TEAMUP_USERNAME in repr(auth)


def test_url_outside_the_vendor_api_is_one_line_not_a_silent_request(sandbox: Sandbox) -> None:
    status, stdout, stderr = httpie(
        "-A", "teamup", "-a", TEAMUP_USER, "http://localhost:9/customers"
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert f"is not TeamUp's API at {sandbox.teamup_url}" in line
    assert "TEAMUP_BASE_URL" in line
    assert stdout == ""
    assert sandbox.login_attempts("teamup") == 0


# -- connection settings: --verify, --cert, --proxy ------------------------------------------


def test_verify_reaches_the_login(auth_plugins_sandbox_tls: Sandbox) -> None:
    tls = auth_plugins_sandbox_tls
    env = {"TEAMUP_BASE_URL": tls.teamup_url, "REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None}
    result = run_http(
        f"--verify={tls.ca_file}",
        "-A",
        "teamup",
        "-a",
        TEAMUP_USER,
        tls.teamup_url + "/customers",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert tls.logins("teamup") == 1


def test_cert_and_cert_key_reach_the_login() -> None:
    with Sandbox(tls=True, client_cert_required=True) as tls:
        result = run_http(
            f"--verify={tls.ca_file}",
            f"--cert={tls.client_cert_file}",
            f"--cert-key={tls.client_key_file}",
            "-A",
            "up2money",
            "-a",
            UP2MONEY_USER,
            tls.up2money_url + "/managed_accounts",
            UP2MONEY_BASE_URL=tls.up2money_url,
        )
        assert result.returncode == 0, result.stderr
        logins = [r for r in tls.received if r.path.endswith("/auth/login")]
        assert len(logins) == 1
        assert logins[0].client_cert is not None


def test_proxy_carries_the_login(sandbox: Sandbox, forward_proxy: ForwardProxy) -> None:
    result = run_http(
        f"--proxy=http:{forward_proxy.url}",
        "-A",
        "teamup",
        "-a",
        TEAMUP_USER,
        sandbox.teamup_url + "/customers",
        NO_PROXY=None,
        no_proxy=None,
    )
    assert result.returncode == 0, result.stderr
    assert [t for _, t in forward_proxy.seen if "/auth/password_login" in t]
    assert sandbox.logins("teamup") == 1


# -- --offline: no call at all ------------------------------------------------------------------


def test_offline_makes_no_call_and_shows_the_cached_token(sandbox: Sandbox) -> None:
    url = sandbox.teamup_url + "/customers"
    cold = run_http("--offline", "-A", "teamup", "-a", TEAMUP_USER, url)
    assert cold.returncode == 0, cold.stderr
    assert sandbox.received == []
    assert "Authorization" not in cold.stdout
    assert run_http("-A", "teamup", "-a", TEAMUP_USER, url).returncode == 0
    seen = len(sandbox.received)
    warm = run_http("--offline", "-A", "teamup", "-a", TEAMUP_USER, url)
    assert warm.returncode == 0, warm.stderr
    assert len(sandbox.received) == seen
    assert "Authorization: Bearer " in warm.stdout
