"""The README's install from a checkout, as a new user runs it: a fresh virtual environment.

``pip install '.[httpie]'`` from this checkout (a wheel is built, as for a release), then the
environment's own ``http`` and ``python`` call the sandbox. Slow (about half a minute, most of
it pip), so there is one test and it checks both front ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)

CHECKOUT = Path(__file__).resolve().parent.parent


def test_install_from_the_checkout_into_a_fresh_environment(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    pip = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{CHECKOUT}[httpie]",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = {
        **os.environ,
        "TEAMUP_DIRECT_AUTH_KEY": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "TEAMUP_BASE_URL": sandbox.teamup_url,
        "HOME": str(tmp_path),
    }
    user = f"{DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}"
    http = subprocess.run(
        [
            str(bin_dir / "http"),
            "--ignore-stdin",
            "--check-status",
            "-A",
            "teamup",
            "-a",
            user,
            sandbox.teamup_url + "/customers",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert http.returncode == 0, http.stderr
    script = (
        "import os, requests\n"
        "from auth_plugins import TeamUpAuth\n"
        f"auth = TeamUpAuth({DEMO_TEAMUP_USERNAME!r}, {DEMO_TEAMUP_PASSWORD!r})\n"
        "print(requests.get(os.environ['TEAMUP_BASE_URL'] + '/customers', auth=auth).status_code)\n"
    )
    python = subprocess.run(
        [str(bin_dir / "python"), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert python.stdout.strip() == "200", python.stderr
    # The installed copy is the environment's own, not this checkout on sys.path.
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import auth_plugins; print(auth_plugins.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert str(env_dir) in where.stdout
    assert sandbox.logins("teamup") == 2
    assert sys.executable not in where.stdout
