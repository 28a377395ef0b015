"""``jupyter fsspec-proxy offline DIR`` as a user runs it: what it says when the npm
packages the app needs are missing or of another version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_fsspec_proxy.npm_packages import NPM_INSTALL
from jupyter_fsspec_proxy.testing import TESTS

pytestmark = pytest.mark.slow

MODULES = TESTS / "browser" / "node_modules"


@pytest.mark.parametrize("hyparquet", [None, "1.0.0"])
def test_offline_names_the_npm_install_the_app_needs(tmp_path, hyparquet):
    modules = tmp_path / "site" / "node_modules"
    (modules / "@pyscript").mkdir(parents=True)
    (modules / "pyodide").symlink_to(MODULES / "pyodide")
    (modules / "@pyscript" / "core").symlink_to(MODULES / "@pyscript" / "core")
    for name in ("hyparquet-compressors", "fzstd", "hysnappy"):
        (modules / name).symlink_to(MODULES / name)
    if hyparquet:
        (modules / "hyparquet").mkdir()
        (modules / "hyparquet" / "package.json").write_text(json.dumps({"version": hyparquet}))
    command = [sys.executable, "-m", "jupyter_fsspec_proxy", "offline", "site"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    found = f"hyparquet {hyparquet}" if hyparquet else "no hyparquet"
    assert done.returncode == 1
    assert (
        done.stderr.strip() == f"The app needs hyparquet 1.33.0, found {found}: run {NPM_INSTALL}"
    )
    assert not (tmp_path / "site" / "static" / "pyodide").exists()  # stopped before copying
