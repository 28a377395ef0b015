"""Where the JupyterLab extension of this server's pages finds the proxy."""

from __future__ import annotations

from typing import Any

#: The page-config option the frontend reads (``jupyter-config-data`` in JupyterLite).
PAGE_CONFIG_OPTION = "fsspecProxyUrl"


def announce_drive_url(web_app_settings: dict[str, Any], url: str) -> None:
    """Put ``url`` in the page config of JupyterLab's pages, unless empty: then the
    frontend uses this server's own ``fsspec-proxy/``."""
    if url:
        web_app_settings.setdefault("page_config_data", {})[PAGE_CONFIG_OPTION] = url
