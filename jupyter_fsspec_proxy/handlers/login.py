"""``login``: a page that does nothing but log in, for pages on the proxy's origin
whose requests cannot start a login themselves."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..auth import AUTH_RESOURCE
from .base import OriginPolicy

PAGE = "<!doctype html><meta charset=utf-8><title>fsspec-proxy</title><p>Logged in.</p>"


class LoginHandler(ExtensionHandlerMixin, OriginPolicy):
    """``GET login``: the server's login (with JupyterHub, the service's OAuth), then a
    one-line page with the session's XSRF cookie. The Storage panel of a JupyterHub
    user's JupyterLab opens it in a hidden frame: JupyterHub sets a service's cookies
    on page loads only, and takes its cookie from scripts only with that XSRF token."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.xsrf_token  # noqa: B018 - sets the XSRF cookie if it is not set yet
        self.set_header("Cache-Control", "no-store")
        self.finish(PAGE)
