"""Service endpoints: sources, configuration, XSRF token, OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files

import yaml
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import PrometheusMetricsHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.web import HTTPError

from .. import __version__
from ..access import Caller, matches
from ..config import ConfigError
from ..manager import SETTINGS_KEY
from .base import ProxyHandler


class IndexHandler(ProxyHandler):
    """``GET api``: the version and mode of this proxy."""

    @authorized
    async def get(self) -> None:
        self.write_json({"version": __version__, "mode": self.manager.mode})


class SourcesHandler(ProxyHandler):
    """``GET api/sources``: the sources the caller may read, with name, protocol,
    readonly, available, reason and whether the caller may write to it."""

    @authorized
    async def get(self) -> None:
        self.write_json(self.manager.sources_for(self.caller))


class XsrfHandler(ProxyHandler):
    """``GET api/xsrf``: the session's XSRF token, for clients that cannot read cookies.

    Only same-origin (or configured) pages can read this response, so it gives
    nothing to a cross-site attacker that the cookie did not already give. It is
    how a page or worker of the same origin gets the token that JupyterHub then
    asks of every cookie request, so a same-origin request needs none to get it.
    """

    def check_xsrf_cookie(self) -> None:
        if self._identifying and self.request.headers.get("Sec-Fetch-Site") == "same-origin":
            return
        super().check_xsrf_cookie()

    @authorized
    async def get(self) -> None:
        self.write_json({"xsrf_token": self.xsrf_token.decode()})


class _ReconfigureHandler(ProxyHandler):
    """Changes the sources in force, all at once or not at all."""

    async def apply(self, change: Callable[[], Awaitable[None]]) -> None:
        if not self.manager.allow_reload:
            raise HTTPError(403, "Reconfiguration is disabled (c.ProxyManager.allow_reload)")
        if not self.manager.may_reconfigure(self.caller):
            raise HTTPError(
                403, "Only the proxy's administrators (c.ProxyManager.config_admins) may do this"
            )
        try:
            await change()
        except ConfigError as exc:
            raise HTTPError(400, "%s", str(exc)) from None
        self.write_json(self.manager.sources_for(self.caller))


class ReloadHandler(_ReconfigureHandler):
    """``POST api/reload``: re-read the config file."""

    @authorized
    async def post(self) -> None:
        await self.apply(self.manager.reload)


class ConfigHandler(_ReconfigureHandler):
    """``PUT api/config``: a new config document (YAML or JSON) in place of the file;
    its sources must lie below ``posted_source_roots``."""

    @authorized
    async def put(self) -> None:
        await self.apply(self._replace)

    async def _replace(self) -> None:
        if self.manager.replicated:
            raise HTTPError(
                409,
                "This proxy is one of several replicas (c.ProxyManager.replicated): a posted "
                "config would change this one only. Change the config file, then reload "
                "(api/reload) or restart each replica",
            )
        await self.manager.apply_posted(self.body, self.caller)


class OpenAPIHandler(ProxyHandler):
    """``GET api/openapi.json``: the OpenAPI 3 description of this API."""

    @authorized
    async def get(self) -> None:
        document = yaml.safe_load(files(__package__).parent.joinpath("openapi.yaml").read_text())
        document["servers"] = [{"url": url_path_join(self.base_url, "fsspec-proxy")}]
        self.write_json(document)


class NotFoundHandler(ProxyHandler):
    """Any other URL below ``fsspec-proxy/``: a JSON 404, like every other error."""

    def prepare(self) -> None:
        raise HTTPError(404, "No such route: %s", self.request.path)


class MetricsHandler(ExtensionHandlerMixin, PrometheusMetricsHandler):
    """``metrics`` of a hub service: Jupyter's Prometheus metrics, for the callers that
    ``metrics_access`` names (JupyterHub's admins by default), not every hub user."""

    @allow_unauthenticated  # decided here, by the rules
    def get(self) -> None:
        manager = self.settings[SETTINGS_KEY]
        user = self.current_user
        if not user or not matches(manager.metrics_access, Caller.of(user)):
            raise HTTPError(403, "Only c.ProxyManager.metrics_access may read the metrics")
        super().get()


class DisabledHandler(ProxyHandler):
    """Every URL below ``fsspec-proxy/`` of a proxy that refused to start: 503."""

    def prepare(self) -> None:
        raise HTTPError(503, "fsspec-proxy is disabled: %s", self.manager.disabled)
