"""The layout the code promises: a core that knows no HTTP client, small modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import auth_plugins

PACKAGE = Path(auth_plugins.__file__).parent


def test_the_core_imports_no_http_client() -> None:
    modules = sorted(f"auth_plugins.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py"))
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(sorted(m for m in ('requests', 'httpx', 'httpie', 'urllib3') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(modules) >= 8
    assert found == "[]"


def test_importing_the_package_imports_no_client_or_plugin_host() -> None:
    script = (
        "import sys, auth_plugins\n"
        "print(sorted(m for m in ('requests', 'httpx', 'pluggy', 'filelock') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"


def test_no_module_grows_past_a_reviewable_size() -> None:
    # The sandbox imitates two whole vendors; every other room keeps to one screen a flow.
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts
    }
    assert {name: n for name, n in sizes.items() if n > 360} == {}
