"""The sources of the tests' servers, their sentinel credentials (a test fails if one
shows up where it must not), and what a server leaves in them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..confined import STAGED_PREFIX
from ..manager import SETTINGS_KEY, ProxyManager
from .processes import free_port

SECRET = "SENTINEL-SECRET-7f3a9c"
ACCESS_KEY = "SENTINEL-KEY-4b2d1e"
BUCKET = "proxy-tests"
SERVED_TOKEN = "served-proxy-token"
#: the sources of the ``sources`` fixture that take writes
WRITABLE = ["Scratch", "Local", "S3"]


def s3_kwargs(endpoint: str) -> dict:
    return {"key": ACCESS_KEY, "secret": SECRET, "endpoint_url": endpoint}


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server on loopback, with the bucket ``BUCKET``: its endpoint."""
    import s3fs
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET, endpoint_url=endpoint)
        s3.makedirs(BUCKET, exist_ok=True)
        yield endpoint
    finally:
        server.stop()


def write_s3_config(folder: Path, endpoint: str, prefix: str) -> None:
    """``folder/proxy.yaml`` (where ``standalone`` looks) serving ``s3://{prefix}`` as "S3"."""
    sources = [{"name": "S3", "path": f"s3://{prefix}", "kwargs": s3_kwargs(endpoint)}]
    (folder / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))


def dead_s3_kwargs() -> dict:
    """Credentials for an S3 endpoint where nothing listens: every call fails fast."""
    return {
        "key": ACCESS_KEY,
        "secret": SECRET,
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }


def staged_uploads(*folders: Path, below: bool = False) -> list[str]:
    """The uploads still staged (or left behind) in ``folders``, or anywhere ``below`` them."""
    pattern = f"{STAGED_PREFIX}*"
    return [
        p.name
        for folder in folders
        for p in (folder.rglob(pattern) if below else folder.glob(pattern))
    ]


def manager_of(serverapp) -> ProxyManager:
    """The proxy's manager inside a running jupyter_server."""
    return serverapp.web_app.settings[SETTINGS_KEY]
