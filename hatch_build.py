"""Build hook: ship the client wheel inside the server package, versions matched (the
JupyterLab extension of package.json too)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.builders.wheel import WheelBuilder

VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
TARGET = "jupyter_fsspec_proxy/client_wheels"


def _version(init: Path) -> str:
    return VERSION.search(init.read_text()).group(1)


class ClientWheelHook(BuildHookInterface):
    """Builds lite_client/ into jupyter_fsspec_proxy/client_wheels/ for the server to serve."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        client = root / "lite_client"
        server_version = _version(root / "jupyter_fsspec_proxy" / "__init__.py")
        client_version = _version(client / "fsspec_proxy_client" / "__init__.py")
        if server_version != client_version:
            raise RuntimeError(f"server {server_version} and client {client_version} differ")
        lab_version = json.loads((root / "package.json").read_text())["version"]
        if server_version != lab_version:
            raise RuntimeError(f"server {server_version} and package.json {lab_version} differ")
        out = root / TARGET
        out.mkdir(exist_ok=True)
        for old in out.glob("*.whl"):
            old.unlink()
        for wheel in WheelBuilder(str(client)).build(directory=str(out), versions=["standard"]):
            name = Path(wheel).name
            build_data["force_include"][wheel] = f"{TARGET}/{name}"
