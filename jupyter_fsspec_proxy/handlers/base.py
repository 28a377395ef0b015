"""The base class of every proxy handler: auth first, bounded bodies, CORS, JSON errors."""

from __future__ import annotations

import itertools
import json
import re
import sys
import uuid
from http.client import responses
from typing import Any
from urllib.parse import urlparse

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.web import HTTPError, stream_request_body

from ..access import Caller
from ..auth import AUTH_RESOURCE
from ..errors import PayloadTooLarge, RetryLater, SourceError, known_status, scrub
from ..manager import SETTINGS_KEY, ProxyManager
from ..paths import clean_relpath, split_source
from ..sources import Source

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
NO_XSRF = (
    "This write comes with a login cookie but without the XSRF token: send it in the "
    "X-XSRFToken header (GET api/xsrf gives it), or authenticate with "
    "'Authorization: token <token>' instead"
)
#: Answers are data for programs: no spaces, and no cycle check (they have none).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_PROCESS_ID = uuid.uuid4().hex[:16]
_request_count = itertools.count(1)
_SECRET_PARAMS = re.compile(r"((?:^|[?&])(?:token|_xsrf)=)[^&]*", re.IGNORECASE)


def http_status(exc: BaseException) -> int | None:
    """The status an exception answers with: its own for HTTPError, else the one
    table's in ``errors`` (None for an unexpected one)."""
    return exc.status_code if isinstance(exc, HTTPError) else known_status(exc)


def mask_uri(uri: str) -> str:
    """``uri`` with the values of ``token`` and ``_xsrf`` query parameters hidden."""
    return _SECRET_PARAMS.sub(r"\1[secret]", uri)


@stream_request_body
class ProxyHandler(ExtensionHandlerMixin, APIHandler):
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

    @property
    def manager(self) -> ProxyManager:
        return self.settings[SETTINGS_KEY]

    # -- authentication and bodies -------------------------------------------

    async def prepare(self) -> None:
        await super().prepare()
        if self.request.method not in ("POST", "PUT"):
            return  # no body: the verb's @authorized decides, on a kept-alive connection
        # A refusal here answers before the body is read (and closes the connection).
        if not self.current_user:
            raise HTTPError(403, NOT_AUTHENTICATED)
        action = self.body_action or HTTP_METHOD_TO_AUTH_ACTION[self.request.method]
        allowed = self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        if not await ensure_async(allowed):
            raise HTTPError(403, "User is not authorized to %s on resource: %s",
                            action, AUTH_RESOURCE)  # fmt: skip
        self._body = bytearray()
        self.limit_body()

    @property
    def max_body(self) -> int:
        return self.manager.settings.max_json_body

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
        if self._finished or not hasattr(self, "body_limit"):
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
        if self.request.method != "OPTIONS" and hasattr(self, "_jupyter_current_user"):
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

    def locate(self, path: str, *, write: bool = False) -> tuple[Source, str, str]:
        """Resolve ``<source>/<path>`` to the source as the caller may use it, the
        relative and the backend path. The first path of a request is audited."""
        name, rest = split_source(path)
        if not hasattr(self, "_audit_path"):
            self._audit_path = path
            self.set_header("X-Request-Id", self.request_id)
        source = self.manager.source(name, self.caller, write)
        relpath = clean_relpath(rest)
        return source, relpath, source.full_path(relpath)

    @property
    def request_id(self) -> str:
        """Unique among every process's requests: a random prefix per process, then a
        count (cheaper than a random id per request)."""
        if not hasattr(self, "_request_id"):
            self._request_id = f"{_PROCESS_ID}-{next(_request_count):x}"
        return self._request_id

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(_COMPACT_JSON.encode(data))

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
        if isinstance(exc, RetryLater):
            self.set_header("Retry-After", str(exc.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.error_body(exc, status_code)))

    def error_body(self, exc: BaseException | None, status_code: int) -> dict[str, str]:
        """``{"error", "message"}`` for an exception; internals and secrets stay out."""
        reason = responses.get(status_code, "Error")
        error, message = reason.replace(" ", "").replace("-", ""), reason
        if (
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

    def _cross_origin(self) -> str | None:
        """The request's Origin when it differs from the host it was sent to."""
        origin = self.request.headers.get("Origin")
        if origin is None or urlparse(origin.lower()).netloc == self.request.host.lower():
            return None
        return origin

    def check_origin(self, origin_to_satisfy_tornado: str = "") -> bool:
        origin = self._cross_origin()
        return origin is None or self.manager.allows_origin(origin)

    def set_cors_headers(self) -> None:
        origin = self._cross_origin()
        if origin is None or not self.manager.allows_origin(origin):
            return
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
        if self.manager.grants_credentials():
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
            if self.manager.settings.mode == "private" and wants_private == "true":
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
        if hasattr(self, "_audit_path") and self.manager.audit.active:
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

    def _audit(self) -> None:
        request = self.request
        route = request.path[len(url_path_join(self.base_url, "fsspec-proxy/")) :]
        kind, _, rest = route.partition("/")
        if kind == "api":  # api/ls, api/copy, ...
            kind = f"api/{rest.partition('/')[0]}"
        source, _, path = self._audit_path.partition("/")
        self.manager.audit.record(
            user=self.audited_user,
            source=source,
            path=path,
            operation=f"{request.method} {kind}",
            status=self.get_status(),
            bytes=getattr(self, "sent_bytes", 0)
            + (self.received_bytes or len(getattr(self, "_body", b""))),
            duration_ms=round(request.request_time() * 1000, 2),
            request_id=self.request_id,
        )
