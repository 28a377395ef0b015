"""Finding the proxy: explicit arguments, then the environment, then the browser."""

from __future__ import annotations

import json
import os
import sys

MARKER = "/fsspec-proxy/"


def find_proxy(endpoint_url: str | None, token: str | None) -> tuple[str, str | None]:
    """The proxy's base URL (ending in ``fsspec-proxy/``) and the token, if any: in a
    JupyterHub user's server, the hub API token the hub gives it. The variables are
    read here too, for a process that set them after importing fsspec (which reads
    ``FSSPEC_PROXY_<OPTION>`` once, at its import)."""
    environ = os.environ
    url = (
        endpoint_url or environ.get("FSSPEC_PROXY_ENDPOINT_URL") or environ.get("FSSPEC_PROXY_URL")
    )
    token = token or environ.get("FSSPEC_PROXY_TOKEN") or environ.get("JUPYTERHUB_API_TOKEN")
    if not url and sys.platform == "emscripten":
        url = _from_browser()
    if not url:
        raise ValueError(
            "No proxy to talk to: pass endpoint_url=..., or set FSSPEC_PROXY_ENDPOINT_URL "
            "(e.g. http://127.0.0.1:8000/fsspec-proxy/)"
        )
    return _normalize(url), token


def _normalize(url: str) -> str:
    url = url.rstrip("/") + "/"
    return url if url.endswith(MARKER) else url + MARKER.lstrip("/")


def endpoint_in(href: str) -> str | None:
    """The proxy that serves the page at ``href`` (a URL below ``fsspec-proxy/``: an
    app or a JupyterLite site), if any. The last marker counts: a JupyterHub
    service may be named fsspec-proxy too (``/services/fsspec-proxy/fsspec-proxy/``)."""
    if MARKER not in href:
        return None
    return href[: href.rindex(MARKER) + len(MARKER)]


def _from_browser() -> str:
    """The Jupyter session this code runs in: a URL below ``fsspec-proxy/`` (a
    JupyterLite site or app served by the proxy), else the page's Jupyter config,
    else the origin's root."""
    import js

    served = endpoint_in(str(js.location.href))
    if served:
        return served
    base_url = _page_base_url(js)
    return str(js.location.origin) + (base_url or "/")


def _page_base_url(js) -> str | None:
    document = getattr(js, "document", None)
    if document is None:
        return None
    element = document.getElementById("jupyter-config-data")
    if element is None:
        return None
    try:
        return json.loads(element.textContent).get("baseUrl")
    except ValueError:
        return None
