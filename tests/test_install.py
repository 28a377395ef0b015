"""The package as installed: enabled in Jupyter Server, a `jupyter fsspec-proxy` command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_fsspec_proxy

pytestmark = pytest.mark.slow


def test_extension_is_enabled_by_installing_it():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    line = next(line for line in output.splitlines() if "jupyter_fsspec_proxy" in line)
    assert "enabled" in line
    assert "jupyter_fsspec_proxy 0.1.0 OK" in output


def test_jupyter_subcommand_exists():
    helped = subprocess.run(
        ["jupyter", "fsspec-proxy", "--help-all"], capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0
    assert "ProxyManager.allowed_origins" in helped.stdout


def test_the_jupyterlab_extension_is_installed_with_the_package():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert "jupyter-fsspec-proxy v0.1.0 enabled OK (python, jupyter-fsspec-proxy)" in output


def test_the_server_imports_none_of_the_test_harness():
    package = Path(jupyter_fsspec_proxy.__file__).parent
    modules = [
        ".".join(("jupyter_fsspec_proxy", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("*.py")
        # webapp/ is the page's code, run by PyScript in the browser
        if path.relative_to(package).parts[0] not in ("testing", "webapp", "__main__.py")
    ]
    script = (
        f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('pytest', 'moto', "
        "'playwright') or n.startswith('jupyter_fsspec_proxy.testing')))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    assert len(modules) > 20 and imported.stdout.strip() == "[]"
