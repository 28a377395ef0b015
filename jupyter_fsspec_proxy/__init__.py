"""Jupyter server extension that proxies fsspec filesystems over HTTP."""

from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import FsspecProxy

    return [{"module": "jupyter_fsspec_proxy", "app": FsspecProxy}]
