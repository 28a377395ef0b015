"""The base class of every proxy handler: auth first, bounded bodies, CORS, JSON errors."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import uuid
from collections.abc import Awaitable
from http.client import responses
from typing import Any
from urllib.parse import urlparse

import orjson
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.concurrent import future_set_result_unless_cancelled
from tornado.iostream import StreamClosedError
from tornado.web import HTTPError, stream_request_body

from ..access import Caller
from ..auth import AUTH_RESOURCE
from ..errors import PayloadTooLarge, RetryLater, SourceError, known_status, scrub
from ..manager import SETTINGS_KEY, ProxyManager
from ..paths import clean_relpath, split_source
from ..sources import SourcePath, SourceSet

ALLOWED_HEADERS = (
    "accept, authorization, content-type, if-match, if-modified-since, if-none-match, "
    "if-range, if-unmodified-since, range, x-xsrftoken"
)
EXPOSED_HEADERS = "Accept-Ranges, Content-Length, Content-Range, ETag, Last-Modified"
NOT_AUTHENTICATED = (
    "Not authenticated: no token, or a wrong one. Send the header "
    "'Authorization: token <token>' (fsspec-proxy-client: token=... or FSSPEC_PROXY_TOKEN), "
    "or log in to the Jupyter server in this browser"
)
HOST_REFUSED = (
    "This server does not answer for the host name %r (Jupyter's guard against DNS "
    "rebinding): use its own address, or set ServerApp.local_hostnames or "
    "ServerApp.allow_remote_access"
)
NO_XSRF = (
    "This write comes with a login cookie but without the XSRF token: send it in the "
    "X-XSRFToken header (GET api/xsrf gives it), or authenticate with "
    "'Authorization: token <token>' instead"
)
#: Answers orjson refuses (lone surrogates), as the standard library writes them.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)
RETRY_AFTER = 5  # seconds, in 503 answers
#: Refused bodies up to this size are read (and thrown away) before the answer.
DRAIN_LIMIT = 8 * 2**20
_PROCESS_ID = uuid.uuid4().hex[:16]
_request_count = itertools.count(1)
_SECRET_PARAMS = re.compile(r"((?:^|[?&])(?:token|_xsrf)=)[^&]*", re.IGNORECASE)


def http_status(exc: BaseException) -> int | None:
    """The status an exception answers with: its own for HTTPError, else the one
    table's in ``errors`` (None for an unexpected one)."""
    return exc.status_code if isinstance(exc, HTTPError) else known_status(exc)


def _cross_site(handler: Any) -> bool:
    """A request a browser made for a page of another site (or another port of this
    host) that cannot read the answer (``Sec-Fetch-Mode: no-cors``)."""
    headers = handler.request.headers
    return headers.get("Sec-Fetch-Mode") == "no-cors" and headers.get("Sec-Fetch-Site") in (
        "cross-site",
        "same-site",
    )


def mask_uri(uri: str) -> str:
    """``uri`` with the values of ``token`` and ``_xsrf`` query parameters hidden."""
    return _SECRET_PARAMS.sub(r"\1[secret]", uri)


@stream_request_body
class OriginPolicy(JupyterHandler):
    """The proxy's cross-origin policy, for its API and its pages alike: only the
    origins of ``allowed_origins`` get a grant. It replaces Jupyter's own, which
    lets any origin read what a request with a token gets."""

    @property
    def manager(self) -> ProxyManager:
        return self.settings[SETTINGS_KEY]

    def _cross_origin(self) -> str | None:
        """The request's Origin when it differs from the host it was sent to."""
        origin = self.request.headers.get("Origin")
        if origin is None or urlparse(origin.lower()).netloc == self.request.host.lower():
            return None
        return origin

    def set_cors_headers(self) -> None:
        origin = self._cross_origin()
        if origin is None or not self.manager.allows_origin(origin):
            return
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
        if self.manager.grants_credentials():
            self.set_header("Access-Control-Allow-Credentials", "true")


class ProxyHandler(ExtensionHandlerMixin, OriginPolicy, APIHandler):
    """Authenticated JSON API handler bound to the :class:`ProxyManager`.

    Bodies are streamed: a request is authenticated (and, if it has a body,
    authorized) before a single byte of its body is read, and the body of an
    ``api/`` request is bounded by ``max_json_body``.
    """

    auth_resource = AUTH_RESOURCE
    #: The action a request with a body needs before its body is read.
    body_action: str | None = None
    #: A route whose requests need no Jupyter login (signed URLs carry their own proof).
    public = False

    # -- authentication and bodies -------------------------------------------

    _identifying = False  # while Jupyter (or JupyterHub) finds out who is calling
    _host_refused = False  # Jupyter refused the request's Host header

    def check_host(self) -> bool:
        allowed = super().check_host()
        self._host_refused = not allowed
        return allowed

    async def prepare(self) -> None:
        self._identifying = True
        try:
            await super().prepare()
        finally:
            self._identifying = False
        cross_site_read = self.request.method in ("GET", "HEAD") and _cross_site(self)
        if cross_site_read and self.current_user and not self.public:
            # <script src>, <img>: a page of another site cannot read the answer, but
            # it could run or probe it; a cookie alone does not let it in.
            self.check_xsrf_cookie()
        if self.request.method not in ("POST", "PUT"):
            return  # no body: the verb's @authorized decides, on a kept-alive connection
        try:
            await self.before_body()
        except Exception as exc:
            if http_status(exc) is not None and self._may_drain():
                await self._drain()
            raise

    async def before_body(self) -> None:
        """Everything decided when the headers have arrived, before any of the body
        is read: who calls, and whether they may."""
        if not self.current_user:
            raise HTTPError(403, NOT_AUTHENTICATED)
        action = self.body_action or HTTP_METHOD_TO_AUTH_ACTION[self.request.method]
        allowed = self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        if not await ensure_async(allowed):
            raise HTTPError(403, "User is not authorized to %s on resource: %s",
                            action, AUTH_RESOURCE)  # fmt: skip
        self._body = bytearray()
        self.limit_body()

    _draining = False

    def _may_drain(self) -> bool:
        """A refusal of an authenticated caller's small body is answered once that body
        has arrived (and is thrown away): a reverse proxy that is still sending it when
        the connection closes would lose the answer (configurable-http-proxy answers
        503). Anything else is answered at once, and its connection closed."""
        length = self.request.headers.get("Content-Length", "")
        return bool(self.current_user) and length.isdigit() and int(length) <= DRAIN_LIMIT

    async def _drain(self) -> None:
        """Read the rest of the body into nothing, then return."""
        self._draining = True
        self.request.connection.set_body_timeout(self.manager.upload_idle_timeout)
        future_set_result_unless_cancelled(self._prepared_future, None)  # tornado reads on
        await self.request._body_future

    @property
    def max_body(self) -> int:
        return self.manager.max_json_body

    def limit_body(self) -> None:
        """Refuse a body over ``max_body`` bytes: by its Content-Length before reading
        it, else as it arrives (chunked uploads)."""
        self.body_limit = limit = self.max_body
        length = self.request.headers.get("Content-Length")
        if length is not None and not re.fullmatch(r"[0-9]{1,19}", length):
            raise HTTPError(400, "Invalid Content-Length")
        if length is not None and int(length) > limit:
            raise PayloadTooLarge(f"Request body larger than the limit of {limit} bytes")
        # tornado's own limit stays above ours, so the answer is this JSON 413
        self.request.connection.set_max_body_size(2**62)

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._draining or not hasattr(self, "body_limit"):
            return
        if len(self._body) + len(chunk) > self.body_limit:
            self.refuse_body()
            return
        self._body += chunk

    def refuse_body(self) -> None:
        """Answer 413 while the body is still arriving (an exception raised here would
        only drop the connection); the rest of the body is never read."""
        exc = PayloadTooLarge(f"Request body larger than the limit of {self.body_limit} bytes")
        self.send_error(413, exc_info=(PayloadTooLarge, exc, None))

    @property
    def body(self) -> bytes:
        return bytes(getattr(self, "_body", b""))

    def check_xsrf_cookie(self) -> None:
        """Jupyter's XSRF check once the caller is known, and JupyterHub's own while
        it checks a login cookie (tornado's call before anything is known waits)."""
        if self.request.method == "OPTIONS":
            return
        if not hasattr(self, "_jupyter_current_user"):
            if self._identifying:  # JupyterHub accepts a cookie only if this passes
                super().check_xsrf_cookie()
            return
        if not self.current_user:
            raise HTTPError(403, NOT_AUTHENTICATED)
        try:
            super().check_xsrf_cookie()
        except HTTPError as exc:
            if exc.status_code == 403:
                raise HTTPError(403, NO_XSRF) from None
            raise

    # -- sources and paths ------------------------------------------------

    @property
    def caller(self) -> Caller:
        """Who the rules see. A shared token or password identifies no one (Jupyter
        makes up a new anonymous user per request): its holder is the server's user."""
        if not hasattr(self, "_caller"):
            if isinstance(self.identity_provider, PasswordIdentityProvider):
                self._caller = self.manager.shared_token_caller
            else:
                self._caller = Caller.of(self.current_user)
        return self._caller

    def locate(self, path: str, *, write: bool = False) -> SourcePath:
        """Resolve ``<source>/<path>`` to the source as the caller may use it (for
        writing, with ``write``) and the path in it. Every path a request names is
        audited."""
        name, rest = split_source(path)
        if not self._touched:
            self.set_header("X-Request-Id", self.request_id)
        if path not in self._touched:
            self._touched.append(path)
        source = self.manager.source(name, self.caller, write, self.sources)
        return SourcePath.of(source, clean_relpath(rest))

    _held: SourceSet | None = None
    _touched: list[str]  # every <source>/<path> the request named, in order

    def initialize(self, name: str, **kwargs: Any) -> None:
        super().initialize(name, **kwargs)
        self._touched = []

    @property
    def sources(self) -> SourceSet:
        """The sources in force when this request first named one, held until it ends:
        a reload meanwhile closes them only afterwards."""
        if self._held is None:
            self._held = self.manager.registry.hold()
        return self._held

    @property
    def request_id(self) -> str:
        """Unique among every process's requests: a random prefix per process, then a
        count (cheaper than a random id per request)."""
        if not hasattr(self, "_request_id"):
            self._request_id = f"{_PROCESS_ID}-{next(_request_count):x}"
        return self._request_id

    async def send_now(self) -> None:
        """Send what is written so far, and wait until it has left."""
        await self.until_sent(self.flush())

    async def until_sent(self, sending: Awaitable[None]) -> None:
        """Wait for a ``flush()`` begun earlier. A client that takes nothing for
        ``send_timeout`` seconds is disconnected: it would hold memory forever."""
        try:
            await asyncio.wait_for(asyncio.shield(sending), self.manager.send_timeout)
        except asyncio.TimeoutError:
            self.log.warning("Closing %s: it took nothing for too long", self._request_summary())
            self.request.connection.close()
            raise StreamClosedError() from None

    def write_json(self, data: Any, status: int = 200) -> None:
        """Answer with ``data`` as compact JSON (orjson: a listing of a thousand files
        encodes ten times faster than with the standard library)."""
        self.set_status(status)
        try:
            body = orjson.dumps(data)
        except orjson.JSONEncodeError:  # names that are not UTF-8 on disk: lone surrogates
            body = _COMPACT_JSON.encode(data).encode()
        self.finish(body)

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body or b"{}")
        except (ValueError, RecursionError):
            raise HTTPError(400, "Request body is not valid JSON (or nested too deeply)") from None
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

    def _handle_request_exception(self, e: BaseException) -> None:
        """Exceptions of the core become their status from the one table in ``errors``."""
        status = http_status(e)
        if status is None or isinstance(e, HTTPError) or self._finished:
            super()._handle_request_exception(e)
            return
        self.send_error(status, exc_info=sys.exc_info())

    def _request_summary(self) -> str:
        return (
            f"{self.request.method} {mask_uri(self.request.uri or '')} ({self.request.remote_ip})"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_cors_headers()  # cleared with the rest by send_error; allowed origins read errors
        self.set_header("Content-Type", "application/json")
        if self.body_unread:
            # The server closes a connection whose body it did not read: said here,
            # so that clients and proxies (nginx, configurable-http-proxy) do not
            # send another request on it.
            self.set_header("Connection", "close")
        if isinstance(exc, RetryLater):  # it knows when there will be room
            self.set_header("Retry-After", str(exc.retry_after))
        elif status_code == 503:
            self.set_header("Retry-After", str(RETRY_AFTER))
        self.finish(json.dumps(self.error_body(exc, status_code)))

    @property
    def body_unread(self) -> bool:
        """True while part of the request's body has not arrived."""
        body = getattr(self.request, "_body_future", None)  # tornado's, for streamed bodies
        return body is not None and not body.done()

    def error_body(self, exc: BaseException | None, status_code: int) -> dict[str, str]:
        """``{"error", "message"}`` for an exception; internals and secrets stay out."""
        reason = responses.get(status_code, "Error")
        error, message = reason.replace(" ", "").replace("-", ""), reason
        if status_code == 403 and self._host_refused:
            message = HOST_REFUSED % self.request.host
        elif (
            status_code == 403
            and not self.public
            and not getattr(self, "_jupyter_current_user", None)
        ):
            message = NOT_AUTHENTICATED
        elif isinstance(exc, SourceError):
            error, message = exc.error, exc.message
        elif isinstance(exc, HTTPError):
            if exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
        elif exc is not None and known_status(exc) is not None:
            error, message = type(exc).__name__, str(exc) or message
        return {"error": error, "message": scrub(message, self.manager.registry.secrets)}

    # -- cross-origin policy ------------------------------------------------

    def check_origin(self, origin_to_satisfy_tornado: str = "") -> bool:
        origin = self._cross_origin()
        return origin is None or self.manager.allows_origin(origin)

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
            if self.manager.mode == "private" and wants_private == "true":
                self.set_header("Access-Control-Allow-Private-Network", "true")
        self.set_status(204)
        self.finish()

    # -- logging --------------------------------------------------------------

    def write(self, chunk: Any) -> None:
        self.sent_bytes = getattr(self, "sent_bytes", 0) + len(chunk)
        super().write(chunk)

    #: body bytes an upload stored (the JSON routes count their body)
    received_bytes = 0

    def on_finish(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.let_go()
        if self.manager.audit.active and (self._touched or self.get_status() in (401, 403)):
            self._audit()
        if self.manager.unsecured and self.get_status() < 400:  # failures: Jupyter's line
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

    @property
    def audited_user(self) -> str | None:
        """Who the audit record names: the caller, None for no login."""
        return self.caller.name if getattr(self, "_jupyter_current_user", None) else None

    @property
    def named_in_url(self) -> list[str]:
        """The ``<source>/<path>`` a refused request's URL names, for its audit record."""
        return list(self.path_args[:1])

    def _audit(self) -> None:
        """One record of what this request touched, or of its refusal (then ``path``
        is what the URL names, and ``user`` is null if no one was authenticated)."""
        request = self.request
        route = request.path[len(url_path_join(self.base_url, "fsspec-proxy/")) :]
        kind, _, rest = route.partition("/")
        if kind == "api":  # api/ls, api/copy, ...
            kind = f"api/{rest.partition('/')[0]}"
        named = self._touched or self.named_in_url
        source, _, path = named[0].partition("/") if named else ("", "", "")
        self.manager.audit.record(
            user=self.audited_user,
            client=request.remote_ip,
            source=source,
            path=path,
            **({"paths": self._touched} if len(self._touched) > 1 else {}),
            operation=f"{request.method} {kind}",
            status=self.get_status(),
            bytes=getattr(self, "sent_bytes", 0)
            + (self.received_bytes or len(getattr(self, "_body", b""))),
            duration_ms=round(request.request_time() * 1000, 2),
            request_id=self.request_id,
        )
