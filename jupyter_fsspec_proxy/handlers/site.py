"""Static sites served beside the proxy (a JupyterLite build), behind the same login."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..auth import AUTH_RESOURCE
from .base import OriginPolicy


class SiteHandler(ExtensionHandlerMixin, OriginPolicy, web.StaticFileHandler):
    """Files of a directory, for logged-in users, on the Jupyter origin.

    Unlike proxied files these pages must run their scripts with the origin's
    cookies, so they come from a directory the operator chose, never from a source.
    """

    auth_resource = AUTH_RESOURCE

    def initialize(self, name: str, path: str, default_filename: str | None = None) -> None:
        ExtensionHandlerMixin.initialize(self, name)
        web.StaticFileHandler.initialize(self, path, default_filename)

    @web.authenticated
    @authorized
    def get(self, path: str, include_body: bool = True) -> Awaitable[None]:
        return web.StaticFileHandler.get(self, path, include_body)

    @web.authenticated
    @authorized
    def head(self, path: str) -> Awaitable[None]:
        return web.StaticFileHandler.get(self, path, include_body=False)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")

    def compute_etag(self) -> Any:
        return web.StaticFileHandler.compute_etag(self)


class AppFileHandler(SiteHandler):
    """The app's own files (``main.py``, ``style.css``): the same for everyone and
    holding no data, so public, like Jupyter's own static files. A page's scripts
    fetch them, and JupyterHub's cookie needs an XSRF token on every fetch."""

    @allow_unauthenticated
    def get(self, path: str, include_body: bool = True) -> Awaitable[None]:
        return web.StaticFileHandler.get(self, path, include_body)

    @allow_unauthenticated
    def head(self, path: str) -> Awaitable[None]:
        return web.StaticFileHandler.get(self, path, include_body=False)
