"""``client/``: the matching client wheel and package indexes for it: PEP 503/691
for micropip and pip, ``all.json`` for JupyterLite's ``%pip`` (piplite).

Public, like Jupyter's own static files: the same open-source wheel for everyone,
holding no data, so that pip and PyScript's loader (which send no token, and no
XSRF token to JupyterHub) can fetch it."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado.web import HTTPError

from ..client_wheel import PROJECT, require_client_wheel
from .base import ProxyHandler

JSON_INDEX = "application/vnd.pypi.simple.v1+json"


class ClientWheelHandler(ProxyHandler):
    """``GET client/<wheel>``: the wheel itself."""

    @allow_unauthenticated
    async def get(self, name: str) -> None:
        wheel = require_client_wheel()
        if name != wheel.name:
            raise HTTPError(404, "No wheel %r here; this server has %r", name, wheel.name)
        self.set_header("Content-Disposition", f'attachment; filename="{wheel.name}"')
        self.finish(wheel.path.read_bytes(), set_content_type="application/octet-stream")


class SimpleIndexHandler(ProxyHandler):
    """``GET client/simple/`` and ``client/simple/fsspec-proxy-client/``: an index
    with one project and one file, as HTML or, when asked for, PEP 691 JSON."""

    @allow_unauthenticated
    async def get(self, project: str | None = None) -> None:
        if project not in (None, PROJECT):
            raise HTTPError(404, "This index has only %r", PROJECT)
        wheel = require_client_wheel()
        as_json = JSON_INDEX in self.request.headers.get("Accept", "")
        if project is None:
            body = (
                json.dumps({"meta": {"api-version": "1.0"}, "projects": [{"name": PROJECT}]})
                if as_json
                else f'<!DOCTYPE html><html><body><a href="{PROJECT}/">{PROJECT}</a></body></html>'
            )
        else:
            url = f"../../{wheel.name}"
            file = {"filename": wheel.name, "url": url, "hashes": {"sha256": wheel.sha256}}
            body = (
                json.dumps({"meta": {"api-version": "1.0"}, "name": PROJECT, "files": [file]})
                if as_json
                else "<!DOCTYPE html><html><body>"
                f'<a href="{url}#sha256={wheel.sha256}">{wheel.name}</a></body></html>'
            )
        self.finish(body, set_content_type=JSON_INDEX if as_json else "text/html")


class PipliteIndexHandler(ProxyHandler):
    """``GET client/all.json``: the index format of JupyterLite's piplite, so a lite
    site lists ``{base_url}fsspec-proxy/client/all.json`` in ``pipliteUrls`` and
    ``%pip install fsspec-proxy-client`` gets this server's own client."""

    @allow_unauthenticated
    async def get(self) -> None:
        wheel = require_client_wheel()
        release = {
            "filename": wheel.name,
            "url": f"./{wheel.name}",
            "digests": {"sha256": wheel.sha256},
            "packagetype": "bdist_wheel",
            "requires_python": ">=3.10",
            "yanked": False,
        }
        self.write_json({PROJECT: {"releases": {wheel.version: [release]}}})
