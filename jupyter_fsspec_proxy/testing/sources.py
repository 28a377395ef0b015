"""The sources of the tests' servers, their sentinel credentials (a test fails if one
shows up where it must not), and what a server leaves in them."""

from __future__ import annotations

from pathlib import Path

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
