"""Tests of the sandbox's HTTPS mode: real TLS on loopback with plain ``requests``, no mocks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from auth_plugins.sandbox import (
    CLIENT_CERT_NAME,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
    TLSUnavailable,
    main,
)

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5  # seconds: every request to the loopback sandbox is bounded

TEAMUP_LOGIN = {
    "username": DEMO_TEAMUP_USERNAME,
    "password": DEMO_TEAMUP_PASSWORD,
    "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
}


@pytest.fixture
def tls_sb(auth_plugins_sandbox_tls: Sandbox) -> Sandbox:
    """An HTTPS sandbox whose client certificate is optional (the shipped fixture)."""
    return auth_plugins_sandbox_tls


@pytest.fixture
def strict_sb() -> Iterator[Sandbox]:
    """An HTTPS sandbox that requires its client certificate."""
    with Sandbox(tls=True, client_cert_required=True) as sandbox:
        yield sandbox


def teamup_login(sb: Sandbox, **kwargs: Any) -> requests.Response:
    return requests.post(
        sb.teamup_url + "/auth/password_login", json=TEAMUP_LOGIN, timeout=TIMEOUT, **kwargs
    )


def up2money_login(sb: Sandbox, **kwargs: Any) -> requests.Response:
    return requests.post(
        sb.up2money_url + "/auth/login",
        json={"email": DEMO_UP2MONEY_EMAIL, "password": {"value": DEMO_UP2MONEY_PASSWORD}},
        headers={"x-secret": DEMO_UP2MONEY_SECRET},
        timeout=TIMEOUT,
        **kwargs,
    )


# ------------------------------------------------------------------------------- server trust


def test_urls_are_https(tls_sb: Sandbox) -> None:
    assert tls_sb.tls
    assert not tls_sb.client_cert_required
    assert tls_sb.url == f"https://127.0.0.1:{tls_sb.port}"
    assert tls_sb.teamup_url == tls_sb.url + "/teamup/api/v2"
    assert tls_sb.up2money_url == tls_sb.url + "/up2money"


def test_logins_succeed_when_the_ca_is_trusted(tls_sb: Sandbox) -> None:
    teamup = teamup_login(tls_sb, verify=tls_sb.ca_file)
    assert teamup.status_code == 200
    assert teamup.json()["access_token"]
    up2money = up2money_login(tls_sb, verify=tls_sb.ca_file)
    assert up2money.status_code == 200
    assert tls_sb.logins("teamup") == 1
    assert tls_sb.logins("up2money") == 1
    # No client certificate was sent.
    assert [r.client_cert for r in tls_sb.received] == [None, None]


def test_verification_fails_without_the_ca(tls_sb: Sandbox) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        teamup_login(tls_sb)  # the system's CAs
    with pytest.raises(requests.exceptions.SSLError):
        up2money_login(tls_sb, verify=True)
    assert tls_sb.login_attempts("teamup") == 0
    assert tls_sb.received == []


def test_another_sandboxs_ca_is_not_trusted(tls_sb: Sandbox) -> None:
    with Sandbox(tls=True) as other:
        with pytest.raises(requests.exceptions.SSLError):
            teamup_login(tls_sb, verify=other.ca_file)
        assert teamup_login(other, verify=other.ca_file).status_code == 200
    assert tls_sb.received == []


def test_certificate_names_localhost(tls_sb: Sandbox) -> None:
    url = f"https://localhost:{tls_sb.port}/teamup/api/v2/customers"
    response = requests.get(url, verify=tls_sb.ca_file, timeout=TIMEOUT)
    assert response.status_code == 401  # reached the API: no token sent


def test_certificate_names_ipv6_loopback() -> None:
    try:
        sandbox = Sandbox(host="::1", tls=True).start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert sandbox.url == f"https://[::1]:{sandbox.port}"
        assert teamup_login(sandbox, verify=sandbox.ca_file).status_code == 200
    finally:
        sandbox.stop()


def test_head_over_tls_matches_get(tls_sb: Sandbox) -> None:
    url = tls_sb.teamup_url + "/customers"
    head = requests.head(url, verify=tls_sb.ca_file, timeout=TIMEOUT)
    got = requests.get(url, verify=tls_sb.ca_file, timeout=TIMEOUT)
    assert head.status_code == got.status_code == 401
    assert head.content == b""


# ------------------------------------------------------------------------- client certificate


def test_optional_client_cert_is_recorded(tls_sb: Sandbox) -> None:
    assert teamup_login(tls_sb, verify=tls_sb.ca_file, cert=tls_sb.client_cert_file).ok
    assert teamup_login(tls_sb, verify=tls_sb.ca_file).ok
    logins = [r for r in tls_sb.received if r.path.endswith("/auth/password_login")]
    assert [r.client_cert for r in logins] == [CLIENT_CERT_NAME, None]


def test_required_client_cert_refuses_clients_without_one(strict_sb: Sandbox) -> None:
    assert strict_sb.client_cert_required
    # TLS 1.3 reports the refusal after the client's side of the handshake, so requests may
    # see it as an SSLError or as the connection being reset: both are ConnectionErrors.
    with pytest.raises(requests.exceptions.ConnectionError):
        teamup_login(strict_sb, verify=strict_sb.ca_file)
    assert strict_sb.login_attempts("teamup") == 0
    assert strict_sb.received == []


def test_required_client_cert_accepts_the_sandboxs_cert(strict_sb: Sandbox) -> None:
    combined = teamup_login(strict_sb, verify=strict_sb.ca_file, cert=strict_sb.client_cert_file)
    assert combined.status_code == 200
    pair = (strict_sb.client_cert_file, strict_sb.client_key_file)
    separate = up2money_login(strict_sb, verify=strict_sb.ca_file, cert=pair)
    assert separate.status_code == 200
    assert [r.client_cert for r in strict_sb.received] == [CLIENT_CERT_NAME, CLIENT_CERT_NAME]
    assert strict_sb.logins("teamup") == strict_sb.logins("up2money") == 1


def test_client_cert_required_needs_tls() -> None:
    with pytest.raises(ValueError, match="tls=True"):
        Sandbox(client_cert_required=True)


# ------------------------------------------------------------------------ connections, files


def test_stalled_and_plain_clients_do_not_block_others(tls_sb: Sandbox) -> None:
    silent = [socket.create_connection(("127.0.0.1", tls_sb.port), timeout=TIMEOUT)]
    try:
        for _ in range(3):
            silent.append(socket.create_connection(("127.0.0.1", tls_sb.port), timeout=TIMEOUT))
        # Plain HTTP on the TLS port fails its handshake; the server drops it.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(tls_sb.url.replace("https:", "http:"), timeout=TIMEOUT)
        # The four connections that never start a handshake hold no one else up.
        assert teamup_login(tls_sb, verify=tls_sb.ca_file).status_code == 200
    finally:
        for sock in silent:
            sock.close()


def test_files_live_while_running() -> None:
    sandbox = Sandbox(tls=True)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.ca_file
    with sandbox:
        files = [Path(sandbox.ca_file), Path(sandbox.client_cert_file)]
        folder = files[0].parent
        assert all(path.is_file() for path in files)
        assert Path(sandbox.client_key_file).read_bytes() in files[1].read_bytes()
        assert folder.stat().st_mode & 0o077 == 0  # private to this user
        ca_pem = files[0].read_bytes()
    assert not folder.exists()
    # Started again: new files, the same CA, so clients that trusted it still do.
    with sandbox:
        assert Path(sandbox.ca_file).read_bytes() == ca_pem
        assert teamup_login(sandbox, verify=sandbox.ca_file).status_code == 200


def test_plain_sandbox_has_no_tls_files(auth_plugins_sandbox: Sandbox) -> None:
    assert not auth_plugins_sandbox.tls
    with pytest.raises(RuntimeError, match="tls=True"):
        _ = auth_plugins_sandbox.ca_file


# ----------------------------------------------------------------------- trustme is optional


def test_tls_without_trustme_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # makes `import trustme` fail
    with pytest.raises(TLSUnavailable, match=r"pip install 'auth-plugins\[sandbox\]'"):
        Sandbox(tls=True)
    assert issubclass(TLSUnavailable, ImportError)
    assert main(["--tls", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "auth-plugins[sandbox]" in err
    assert "Traceback" not in err


def test_sandbox_imports_trustme_only_for_tls() -> None:
    code = (
        "import sys, auth_plugins.sandbox, auth_plugins.pytest_plugin; "
        "print('trustme' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------------- the command


def _read_banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(lines) < 200:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Control:"):
            break
    return lines


def _field(lines: list[str], label: str) -> str:
    line = next(line for line in lines if line.startswith(label))
    return line[len(label) :].split()[0]


@pytest.mark.parametrize("flags", [["--tls"], ["--client-cert-required"]])
def test_command_prints_the_ca_to_trust(flags: list[str]) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    code = "import sys; from auth_plugins.sandbox import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        lines = _read_banner(process)
        assert lines[0].startswith("auth-plugins sandbox listening on https://127.0.0.1:")
        ca_file = _field(lines[:4], "CA file (trust it)")
        cert_file = _field(lines[:4], "client cert+key")
        assert Path(ca_file).is_file()
        required = flags == ["--client-cert-required"]
        assert ("(required)" in "\n".join(lines[:4])) is required
        banner = "\n".join(lines)
        assert f"http --verify={ca_file}" in banner
        assert f"REQUESTS_CA_BUNDLE={ca_file} http" in banner
        assert "export REQUESTS_CA_BUNDLE" not in banner  # would break other sites' HTTPS
        base = _field(lines, "  export TEAMUP_BASE_URL=")
        assert base.startswith("https://")
        cert = cert_file if required else None
        response = requests.post(
            base + "/auth/password_login",
            json=TEAMUP_LOGIN,
            verify=ca_file,
            cert=cert,
            timeout=TIMEOUT,
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "Traceback" not in err
        assert "stopped" in out
        assert not Path(ca_file).exists()  # the private folder went with the sandbox
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


# ------------------------------------------------------------------------------ pytest plugin


def test_pytest_plugin_tls_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        """
        import os
        import requests

        seen = []

        def test_one(auth_plugins_sandbox_tls):
            sb = auth_plugins_sandbox_tls
            assert sb.running and sb.teamup_url.startswith("https://127.0.0.1:")
            r = requests.post(sb.up2money_url + "/auth/login", timeout=5,
                              verify=sb.ca_file, cert=sb.client_cert_file,
                              headers={"x-secret": "sandbox-secret"},
                              json={"email": "alice@example.com",
                                    "password": {"value": "tok_alice-password"}})
            assert r.status_code == 200
            assert sb.received[-1].client_cert == "auth-plugins sandbox client"
            seen.append((sb, sb.ca_file))

        def test_two(auth_plugins_sandbox_tls):
            sb, ca_file = seen[0]
            assert auth_plugins_sandbox_tls is not sb
            assert not sb.running and not os.path.exists(ca_file)
        """
    )
    result = pytester.runpytest_inprocess(
        "-p", "auth_plugins.pytest_plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
