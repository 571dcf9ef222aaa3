"""``auth-plugins login`` / ``logout --forget-password`` and ``http -a USER`` with kept secrets.

The real commands in subprocesses (the prompt on a pseudo-terminal), keyrings.alt's
file keyring in a temp folder chosen by PYTHON_KEYRING_BACKEND, the sandbox on loopback.
"""

from __future__ import annotations

import io
import os
import pty
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_httpie import LAUNCH_IN_TERMINAL, child_env, error_lines, httpie, run_http

from auth_plugins.cli import main
from auth_plugins.core.secrets import keyring_service
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY

COMMAND = str(Path(sys.executable).parent / "auth-plugins")


@pytest.fixture(autouse=True)
def vendor_settings(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sandbox's settings in the environment (children inherit it); no terminal here."""
    monkeypatch.setenv("TEAMUP_BASE_URL", sandbox.teamup_url)
    monkeypatch.setenv("TEAMUP_DIRECT_AUTH_KEY", DEMO_TEAMUP_DIRECT_AUTH_KEY)
    monkeypatch.setenv("UP2MONEY_BASE_URL", sandbox.up2money_url)
    monkeypatch.setenv("UP2MONEY_SECRET", DEMO_UP2MONEY_SECRET)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO())


def in_terminal(args: Sequence[str], answers: Sequence[str], prompt: str) -> tuple[int, str, str]:
    """``auth-plugins ARGS`` with stdin and stderr on a pseudo-terminal; each answer is typed
    after ``prompt`` appears. Returns (status, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH_IN_TERMINAL, os.ttyname(slave), COMMAND, *args],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        shown = b""
        pending = list(answers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    shown += os.read(master, 4096)
                except OSError:  # the terminal closed
                    break
                if pending and shown.endswith(prompt.encode()):
                    os.write(master, pending.pop(0).encode())
            elif process.poll() is not None:
                break
        else:
            process.kill()
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        status = process.wait(timeout=10)
        terminal = shown.decode(errors="replace")
        assert not pending, f"prompt never appeared; terminal showed {terminal!r}"
        return status, stdout, terminal
    finally:
        os.close(master)
        os.close(slave)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- auth-plugins login / logout --forget-password -------------------------------------------


def test_login_keeps_the_password_http_uses_it_and_logout_forgets_it(
    sandbox: Sandbox, file_keyring: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    prompt = f"TeamUp password for {DEMO_TEAMUP_USERNAME}: "
    status, stdout, terminal = in_terminal(
        ["login", "teamup", DEMO_TEAMUP_USERNAME], [DEMO_TEAMUP_PASSWORD + "\n"], prompt
    )
    assert status == 0, terminal
    assert f"kept the password of {DEMO_TEAMUP_USERNAME} in the keyring" in stdout
    assert repr(service) in stdout
    assert DEMO_TEAMUP_PASSWORD not in terminal  # typed without echo
    assert file_keyring.get_password(service, DEMO_TEAMUP_USERNAME) == DEMO_TEAMUP_PASSWORD

    url = f"{sandbox.teamup_url}/customers"
    done = run_http("-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, url)
    assert done.returncode == 0, done.stderr
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1

    status, out, err = run(
        capsys, "logout", "teamup", "--user", DEMO_TEAMUP_USERNAME, "--forget-password"
    )
    assert status == 0, err
    assert "removed 1 stored token(s)" in out
    assert f"removed the password of {DEMO_TEAMUP_USERNAME} from the keyring" in out
    assert file_keyring.get_password(service, DEMO_TEAMUP_USERNAME) is None
    status, out, _ = run(
        capsys, "logout", "teamup", "--user", DEMO_TEAMUP_USERNAME, "--forget-password"
    )
    assert status == 0
    assert f"found no password of {DEMO_TEAMUP_USERNAME} in the keyring" in out
    # Forgotten: with no token, no password and no terminal, http says what to do.
    done = run_http("-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, url)
    assert done.returncode == 1
    [line] = error_lines(done.stderr)
    assert f"needs the password of {DEMO_TEAMUP_USERNAME}" in line
    assert "TEAMUP_PASSWORD_COMMAND" in line
    assert f"auth-plugins login teamup {DEMO_TEAMUP_USERNAME}" in line
    assert sandbox.login_attempts("teamup") == 1


def test_ctrl_c_at_the_login_prompt_stores_nothing(file_keyring: Any, sandbox: Sandbox) -> None:
    prompt = "TeamUp password for alice@example.com: "
    status, _, terminal = in_terminal(["login", "teamup", "alice@example.com"], ["\x03"], prompt)
    assert status == 130, f"exit status {status}; the terminal showed {terminal!r}"
    assert "auth-plugins: interrupted" in terminal
    assert "Traceback" not in terminal
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    assert file_keyring.get_password(service, "alice@example.com") is None


def test_login_without_a_usable_keyring_names_the_alternatives_before_asking(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # conftest selects keyring's fail backend: a headless server, a container.
    stdin = io.StringIO("typed-for-nothing\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    status, out, err = run(capsys, "login", "teamup", "alice@example.com")
    assert status == 1
    assert out == ""
    [line] = error_lines(err)
    assert line.startswith("auth-plugins: error: no usable keyring (NoKeyringError: ")
    assert "TEAMUP_PASSWORD_COMMAND (a command printing it" in line
    assert "TEAMUP_PASSWORD instead" in line
    assert "Traceback" not in err
    assert stdin.tell() == 0  # nobody was asked


def test_login_from_standard_input_and_its_mistakes(
    sandbox: Sandbox,
    file_keyring: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    status, _, err = run(capsys, "login", "teamup", "alice@example.com")
    assert status == 1
    assert "no password was typed; nothing was stored" in err
    # Without a terminal, the first line of standard input (pass show x | auth-plugins login).
    monkeypatch.setattr(sys, "stdin", io.StringIO("the-key\nnotes\n"))
    status, out, err = run(capsys, "login", "up2money", "--option", "secret")
    assert status == 0, err
    assert "kept the secret option in the keyring" in out
    service = keyring_service(UP2MONEY, sandbox.up2money_url)
    assert file_keyring.get_password(service, "option:secret") == "the-key"
    status, _, err = run(capsys, "login", "teamup", "--option", "scheme")
    assert status == 1
    assert "no secret option 'scheme'; its secrets: password, direct_auth_key" in err
    status, _, err = run(capsys, "login", "teamup")
    assert "whose password? Give the user name, or set TEAMUP_USERNAME" in err
    status, _, err = run(capsys, "logout", "--forget-password")
    assert "--forget-password needs the vendor" in err


def test_token_command_uses_the_keyring(
    sandbox: Sandbox, file_keyring: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    service = keyring_service(TEAMUP, sandbox.teamup_url)
    file_keyring.set_password(service, DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD)
    status, out, err = run(capsys, "token", "teamup", "-u", DEMO_TEAMUP_USERNAME)
    assert status == 0, err
    assert out.strip()
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1


# -- http -a USER with a command ---------------------------------------------------------------


def script(folder: Path, source: str) -> str:
    path = folder / f"manager{len(list(folder.iterdir()))}.py"
    path.write_text(source)
    return shlex.join([sys.executable, str(path)])


def test_http_with_a_password_command_shows_its_output_nowhere(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"{sandbox.teamup_url}/customers"
    good = script(tmp_path, f"print({DEMO_TEAMUP_PASSWORD!r})\n")
    done = run_http(
        "--debug", "-A", "teamup", "-a", DEMO_TEAMUP_USERNAME, url, TEAMUP_PASSWORD_COMMAND=good
    )
    assert done.returncode == 0, done.stderr
    assert DEMO_TEAMUP_PASSWORD not in done.stdout + done.stderr
    assert sandbox.logins("teamup", DEMO_TEAMUP_USERNAME) == 1

    leaky = "s3cr3t-from-the-manager"
    failing = script(
        tmp_path,
        f"import sys\nprint({leaky!r})\nsys.stderr.write('vault: token expired ' + {leaky!r})\n"
        "sys.exit(3)\n",
    )
    for debug in ([], ["--debug"]):
        done = run_http(
            *debug, "-A", "teamup", "-a", "bob@example.com", url, TEAMUP_PASSWORD_COMMAND=failing
        )
        assert done.returncode == 1
        assert leaky not in done.stdout + done.stderr
        assert "vault: token expired ***" in done.stderr
        assert "exited with status 3" in done.stderr
        if not debug:  # --debug adds a traceback; without it, one line
            [line] = error_lines(done.stderr)
    assert line.startswith("http: error: ConfigError: TeamUp: the command ")
    assert sandbox.login_attempts("teamup") == 1


def test_http_never_runs_another_users_password_command(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("TEAMUP_USERNAME", DEMO_TEAMUP_USERNAME)
    monkeypatch.setenv(
        "TEAMUP_PASSWORD_COMMAND",
        script(tmp_path, f"open({str(marker)!r}, 'w').write('x')\nprint('pw')\n"),
    )
    status, _, stderr = httpie(
        "-A", "teamup", "-a", "bob@example.com", f"{sandbox.teamup_url}/customers"
    )
    assert status == 1
    [line] = error_lines(stderr)
    assert "needs the password of bob@example.com" in line
    assert not marker.exists()
    assert sandbox.login_attempts("teamup") == 0
