"""The base class of every proxy handler: auth, CORS, JSON errors, sources."""

from __future__ import annotations

import json
from http.client import responses
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado.web import HTTPError

from ..auth import AUTH_RESOURCE
from ..errors import SourceError, scrub
from ..paths import clean_relpath, split_source
from ..sources import Source

if TYPE_CHECKING:
    from ..app import FsspecProxy

ALLOWED_HEADERS = (
    "accept, authorization, content-type, if-match, if-modified-since, if-none-match, "
    "if-range, if-unmodified-since, range, x-xsrftoken"
)
EXPOSED_HEADERS = "Accept-Ranges, Content-Length, Content-Range, ETag, Last-Modified"


class ProxyHandler(ExtensionHandlerMixin, APIHandler):
    """Authenticated JSON API handler bound to the :class:`FsspecProxy` app."""

    auth_resource = AUTH_RESOURCE

    @property
    def proxy(self) -> FsspecProxy:
        return self.extensionapp  # type: ignore[return-value]

    # -- sources and paths ------------------------------------------------

    def locate(self, path: str, *, write: bool = False) -> tuple[Source, str, str]:
        """Resolve ``<source>/<path>`` to the source, the relative and the backend path."""
        name, rest = split_source(path)
        source = self.proxy.registry.get(name)
        if write and source.readonly:
            raise HTTPError(403, "Source %r is readonly", name)
        relpath = clean_relpath(rest)
        return source, relpath, source.full_path(relpath)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400, "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPError(400, "Request body must be a JSON object")
        return body

    def bool_argument(self, name: str, default: bool) -> bool:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        if value.lower() not in ("true", "false", "1", "0"):
            raise HTTPError(400, "Query argument %r must be true or false", name)
        return value.lower() in ("true", "1")

    # -- errors -----------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.error_body(exc, status_code)))

    def error_body(self, exc: BaseException | None, status_code: int) -> dict[str, str]:
        """``{"error", "message"}`` for an exception; internals and secrets stay out."""
        reason = responses.get(status_code, "Error")
        error, message = reason.replace(" ", "").replace("-", ""), reason
        if isinstance(exc, SourceError):
            error, message = exc.error, exc.message
        elif isinstance(exc, HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        return {"error": error, "message": scrub(message, self.proxy.registry.secrets)}

    # -- cross-origin policy ------------------------------------------------

    def _cross_origin(self) -> str | None:
        """The request's Origin when it differs from the host it was sent to."""
        origin = self.request.headers.get("Origin")
        if origin is None or urlparse(origin.lower()).netloc == self.request.host.lower():
            return None
        return origin

    def check_origin(self, origin_to_satisfy_tornado: str = "") -> bool:
        origin = self._cross_origin()
        return origin is None or self.proxy.allows_origin(origin)

    def set_cors_headers(self) -> None:
        origin = self._cross_origin()
        if origin is None or not self.proxy.allows_origin(origin):
            return
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
        if self.proxy.grants_credentials():
            self.set_header("Access-Control-Allow-Credentials", "true")

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Vary", "Origin")

    @allow_unauthenticated
    def options(self, *args: Any, **kwargs: Any) -> None:
        """Answer CORS preflights; only configured origins get a grant."""
        self.set_cors_headers()
        if self._headers.get("Access-Control-Allow-Origin"):
            self.set_header("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE")
            self.set_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            self.set_header("Access-Control-Max-Age", "600")
            wants_private = self.request.headers.get("Access-Control-Request-Private-Network")
            if self.proxy.mode == "private" and wants_private == "true":
                self.set_header("Access-Control-Allow-Private-Network", "true")
        self.set_status(204)
        self.finish()

    # -- logging --------------------------------------------------------------

    def on_finish(self) -> None:
        if self.proxy.mode != "run":
            request = self.request
            span = request.headers.get("Range", "")
            self.log.info(
                "%s %s %s-> %d",
                request.method,
                request.path,
                f"[{span}] " if span else "",
                self.get_status(),
            )
        super().on_finish()
