"""The wheels this server hands out: the fsspec-proxy-client wheel built into this
installation (see hatch_build.py), and fsspec's, which the client needs, made
from the fsspec installed here, so that a machine with no other package index
installs the client from the proxy alone."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distribution
from pathlib import Path

from . import __version__

PROJECT = "fsspec-proxy-client"
DEPENDENCY = "fsspec"
#: Files of an installed distribution that say how it was installed, not what it is.
_INSTALLATION_RECORDS = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json")


@dataclass(frozen=True)
class Wheel:
    project: str
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def version(self) -> str:
        return self.name.split("-")[1]


@cache
def client_wheel() -> Wheel | None:
    """The client wheel of the same version as this server, if the build made one."""
    name = f"fsspec_proxy_client-{__version__}-py3-none-any.whl"
    path = Path(__file__).with_name("client_wheels") / name
    return Wheel(PROJECT, name, path.read_bytes()) if path.is_file() else None


def require_client_wheel() -> Wheel:
    """The client wheel; FileNotFoundError (404) if this installation has none."""
    wheel = client_wheel()
    if wheel is None:
        raise FileNotFoundError("This installation was built without the client wheel")
    return wheel


@cache
def dependency_wheel() -> Wheel:
    """fsspec's wheel, repacked from the installed (pure-Python) distribution: its
    files and metadata, with a RECORD of their hashes."""
    dist = distribution(DEPENDENCY)
    info = f"{DEPENDENCY}-{dist.version}.dist-info"
    out = io.BytesIO()
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in dist.files or ():
            name = str(file)
            if "__pycache__" in name or name.endswith(".pyc"):
                continue
            if name.startswith(info) and name.rpartition("/")[2] in _INSTALLATION_RECORDS:
                continue
            data = Path(file.locate()).read_bytes()
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return Wheel(DEPENDENCY, f"{DEPENDENCY}-{dist.version}-py3-none-any.whl", out.getvalue())


def served_wheels() -> dict[str, Wheel]:
    """Every wheel the index serves, by project."""
    return {PROJECT: require_client_wheel(), DEPENDENCY: dependency_wheel()}
