"""``client/``: the matching client wheel, fsspec's, and package indexes for them:
PEP 503/691 for micropip and pip, ``all.json`` for JupyterLite's ``%pip`` (piplite).

Public, like Jupyter's own static files: the same open-source wheels for everyone,
holding no data, so that pip and PyScript's loader (which send no token, and no
XSRF token to JupyterHub) can fetch them."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado.web import HTTPError

from ..client_wheel import PROJECT, Wheel, require_client_wheel, served_wheels
from .base import ProxyHandler

JSON_INDEX = "application/vnd.pypi.simple.v1+json"


class ClientWheelHandler(ProxyHandler):
    """``GET client/<wheel>``: a wheel itself."""

    @allow_unauthenticated
    async def get(self, name: str) -> None:
        wheels = {wheel.name: wheel for wheel in served_wheels().values()}
        if name not in wheels:
            raise HTTPError(404, "No wheel %r here; this server has %s", name, sorted(wheels))
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(wheels[name].data, set_content_type="application/octet-stream")


class SimpleIndexHandler(ProxyHandler):
    """``GET client/simple/`` and ``client/simple/<project>/``: an index of the
    client and fsspec, one file each, as HTML or, when asked for, PEP 691 JSON."""

    @allow_unauthenticated
    async def get(self, project: str | None = None) -> None:
        wheels = served_wheels()
        if project is not None and project not in wheels:
            raise HTTPError(404, "This index has only %s", sorted(wheels))
        as_json = JSON_INDEX in self.request.headers.get("Accept", "")
        if project is None:
            body = _project_list(sorted(wheels), as_json)
        else:
            body = _project_page(wheels[project], as_json)
        self.finish(body, set_content_type=JSON_INDEX if as_json else "text/html")


def _project_list(projects: list[str], as_json: bool) -> str:
    if as_json:
        names = [{"name": name} for name in projects]
        return json.dumps({"meta": {"api-version": "1.0"}, "projects": names})
    links = "".join(f'<a href="{name}/">{name}</a>' for name in projects)
    return f"<!DOCTYPE html><html><body>{links}</body></html>"


def _project_page(wheel: Wheel, as_json: bool) -> str:
    url = f"../../{wheel.name}"
    if as_json:
        file = {"filename": wheel.name, "url": url, "hashes": {"sha256": wheel.sha256}}
        return json.dumps({"meta": {"api-version": "1.0"}, "name": wheel.project, "files": [file]})
    link = f'<a href="{url}#sha256={wheel.sha256}">{wheel.name}</a>'
    return f"<!DOCTYPE html><html><body>{link}</body></html>"


class PipliteIndexHandler(ProxyHandler):
    """``GET client/all.json``: the index format of JupyterLite's piplite, so a lite
    site lists ``{base_url}fsspec-proxy/client/all.json`` in ``pipliteUrls`` and
    ``%pip install fsspec-proxy-client`` gets this server's own client (fsspec comes
    from the Pyodide lock)."""

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
