"""The fsspec-proxy-client wheel built into this installation (see hatch_build.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import __version__

PROJECT = "fsspec-proxy-client"


@dataclass(frozen=True)
class ClientWheel:
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def version(self) -> str:
        return self.name.split("-")[1]


@cache
def client_wheel() -> ClientWheel | None:
    """The client wheel of the same version as this server, if the build made one."""
    path = Path(__file__).with_name("client_wheels") / (
        f"fsspec_proxy_client-{__version__}-py3-none-any.whl"
    )
    if not path.is_file():
        return None
    return ClientWheel(path, hashlib.sha256(path.read_bytes()).hexdigest())


def require_client_wheel() -> ClientWheel:
    """The client wheel; FileNotFoundError (404) if this installation has none."""
    wheel = client_wheel()
    if wheel is None:
        raise FileNotFoundError("This installation was built without the client wheel")
    return wheel
