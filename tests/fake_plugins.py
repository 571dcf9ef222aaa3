"""Throwaway plugin distributions for the plugin-host tests.

A distribution is two files in a folder on ``sys.path``: a module and a
``NAME-VERSION.dist-info`` with ``METADATA`` and ``entry_points.txt``.
``importlib.metadata`` finds it exactly as it finds one pip installed, so the
host's real loading code runs; ``PYTHONPATH`` carries it to subprocesses.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

#: A plugin that works: vendor "widget", declared as data.
WIDGET = """
from auth_plugins import Vendor, hookimpl

WIDGET = Vendor(
    name="widget",
    title="Widget",
    base_url="https://widget.example",
    login_path="/login",
    login_body={"user": "{username}", "pass": "{password}"},
    env_prefix="WIDGET",
)

@hookimpl
def register_vendors(register):
    register(WIDGET)
"""

#: A plugin that fails as Python imports it.
BROKEN_IMPORT = """
raise RuntimeError("this plugin is broken on purpose")
"""

#: A plugin that imports, registers one vendor, then fails in its hook.
BROKEN_HOOK = """
from auth_plugins import Vendor, hookimpl

HALFWAY = Vendor(
    name="halfway",
    title="Halfway",
    base_url="https://halfway.example",
    login_path="/login",
    login_body={"user": "{username}"},
    env_prefix="HALFWAY",
)

@hookimpl
def register_vendors(register):
    register(HALFWAY)
    raise LookupError("register_vendors is broken on purpose")
"""


class FakeDistributions:
    """Writes throwaway distributions into one folder put on ``sys.path`` and ``PYTHONPATH``."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._modules: list[str] = []
        root.mkdir()
        monkeypatch.syspath_prepend(str(root))
        path = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", f"{root}{os.pathsep}{path}" if path else str(root))

    def add(
        self,
        dist: str,
        entry_points: Mapping[str, str],
        modules: Mapping[str, str],
        *,
        group: str = "auth_plugins",
    ) -> None:
        """Install ``dist`` 0.0.0: ``modules`` (name: source), ``entry_points`` (name: value)."""
        for name, source in modules.items():
            (self.root / f"{name}.py").write_text(textwrap.dedent(source))
            self._modules.append(name)
        info = self.root / f"{dist.replace('-', '_')}-0.0.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n")
        lines = [f"[{group}]", *(f"{name} = {value}" for name, value in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        # The import system caches folder listings; a file written after one was made is unseen.
        importlib.invalidate_caches()

    def imported(self, module: str) -> bool:
        """Has this process imported the throwaway ``module``?"""
        return module in sys.modules

    def forget(self) -> None:
        """Drop the throwaway modules from ``sys.modules`` (their files go with the folder)."""
        for name in self._modules:
            sys.modules.pop(name, None)
