"""``app/``: the PyScript file browser shipped with the proxy."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth import AUTH_RESOURCE
from ..client_wheel import require_client_wheel
from ..npm_packages import APP_MODULES, app_module_folder
from .base import OriginPolicy

WEBAPP = Path(__file__).parent.parent / "webapp"
MODULES = ("tables.py", "parquet.py")  # what main.py imports from the app's folder


class AppHandler(ExtensionHandlerMixin, OriginPolicy):
    """The app's page (``app/``, or ``app/?mode=worker`` to run Python in a worker):
    opening it logs in (with JupyterHub, its OAuth)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        worker = self.get_query_argument("mode", "main") == "worker"
        if worker:  # PyScript workers reach the page's DOM only when it is isolated
            self.set_header("Cross-Origin-Opener-Policy", "same-origin")
            self.set_header("Cross-Origin-Embedder-Policy", "require-corp")
        page = Template((WEBAPP / "index.html").read_text())
        pyscript = self.extensionapp.app_pyscript_url.rstrip("/")
        self.finish(page.substitute(pyscript=pyscript, worker=" worker" if worker else ""))


class AppConfigHandler(ExtensionHandlerMixin, OriginPolicy):
    """``app/config.json``: the PyScript configuration, public like the app's files
    (the URLs of the client wheel, the app's modules, the interpreter and the npm
    packages, nothing else)."""

    @allow_unauthenticated
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self._pyscript_config()))

    def _absolute(self, url: str) -> str:
        return f"{self.request.protocol}://{self.request.host}{url}" if url.startswith("/") else url

    def _pyscript_config(self) -> dict:
        try:
            wheel = require_client_wheel()
        except FileNotFoundError as exc:
            raise web.HTTPError(404, "%s", str(exc)) from None
        app = self.extensionapp
        path = url_path_join(self.base_url, "fsspec-proxy", "client", wheel.name)
        files = {
            self._absolute(url_path_join(self.base_url, "fsspec-proxy", "app", name)): f"./{name}"
            for name in MODULES
        }
        npm = app.app_npm_url.rstrip("/") + "/"
        packages = {
            name: self._absolute(f"{npm}{app_module_folder(name)}/") for name in APP_MODULES
        }
        config = {
            "packages": [self._absolute(path)],
            "files": files,
            "fsspec_proxy": {"npm": packages},
        }
        if app.app_interpreter_url:
            config["interpreter"] = self._absolute(app.app_interpreter_url)
        return config
