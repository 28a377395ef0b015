"""The request seam: one small interface, one implementation per runtime.

The standard library's ``http.client`` here; the browser's ``fetch`` and XHR in
``transport_xhr`` (blocking) and ``transport_xhr_async``, which builds on the XHR
helpers of the former. None depends on this module, nor this one on them but
through :func:`default_transport`.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import select
import socket
import sys
import threading
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from .messages import Body, Response, replayable

REDIRECTS = (301, 302, 303, 307, 308)
#: Bodies from this size wait for the server's "100 Continue" before they are sent.
EXPECT_FROM = 1 << 20
CONTINUE_WAIT = 5.0  # seconds
_INTERIM = re.compile(rb"HTTP/1\.[01] 100 ")
MAX_REDIRECTS = 5
#: Headers that never go to another origin.
CREDENTIALS = ("authorization", "cookie", "x-xsrftoken")
#: What a balancer or the hub's proxy answers when the server it chose went away
#: with the request (the proxy's own errors are JSON).
GATEWAY_LOST = (502, 503)


class Transport(Protocol):
    def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response: ...


def default_transport() -> Transport:
    """The standard library on CPython; synchronous XHR in Pyodide."""
    if sys.platform == "emscripten":
        from .transport_xhr import XHRTransport

        return XHRTransport()
    return HTTPTransport()


def default_async_transport() -> Any:
    """Asynchronous XHR in Pyodide; the blocking transport in a thread on CPython."""
    if sys.platform == "emscripten":
        from .transport_xhr_async import AsyncXHRTransport

        return AsyncXHRTransport()
    return ThreadedTransport(HTTPTransport())


class ThreadedTransport:
    """Awaits a blocking transport by running each request in a thread."""

    def __init__(self, blocking: Transport) -> None:
        self.blocking = blocking

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        return await asyncio.to_thread(self.blocking.request, method, url, headers, body)


class HTTPTransport:
    """``http.client`` with one keep-alive connection per host and thread."""

    BLOCK = 1 << 20

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        key = (scheme, netloc)
        if key not in pool:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            pool[key] = kind(netloc, timeout=self.timeout, blocksize=self.BLOCK)
        connection = pool[key]
        if connection.sock is not None and _closed_by_peer(connection.sock):
            connection.close()  # reconnects on the next request, which then goes out once
        return connection

    def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        """Send a request; a read follows redirects (a proxy may send large reads to
        a presigned URL), and credentials never follow one to another origin."""
        headers = headers or {}
        response = self._send(method, url, headers, body)
        for _ in range(MAX_REDIRECTS):
            location = response.headers.get("location")
            if method not in ("GET", "HEAD") or response.status not in REDIRECTS or not location:
                break
            target = urljoin(url, location)
            if urlsplit(target)[:2] != urlsplit(url)[:2]:
                headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIALS}
            url = target
            response = self._send(method, url, headers, None)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str], body: Body) -> Response:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        may_replay = replayable(method, body)
        for attempt in (1, 2):
            conn = self._connection(parts.scheme, parts.netloc)
            try:
                response = _exchange(conn, method, target, headers, body)
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()  # a kept-alive connection the server had closed
                if attempt == 2 or not may_replay:
                    raise
                continue
            names = {name.lower(): value for name, value in response.getheaders()}
            if attempt == 1 and may_replay and _lost_by_gateway(response.status, names):
                continue  # a replica died with it: the balancer sends it to another
            return Response(response.status, data, names)
        raise AssertionError("unreachable")


def _lost_by_gateway(status: int, headers: dict[str, str]) -> bool:
    """A 502 or 503 that the proxy did not write: the request may not have reached
    a server that still runs, as when a kept-alive connection drops."""
    return status in GATEWAY_LOST and not headers.get("content-type", "").startswith(
        "application/json"
    )


def _exchange(
    conn: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str], body: Body
) -> http.client.HTTPResponse:
    """Send one request and return its answer. A large body is announced first
    (``Expect: 100-continue``), so that a refusal arrives before any of it is
    sent; a server that answers while the body is still going out (and closes)
    is heard out: its answer, not the broken connection, says what happened."""
    unsent: OSError | None = None
    try:
        length = _length(headers, body)
        if length >= EXPECT_FROM and not isinstance(conn, http.client.HTTPSConnection):
            if not _announce(conn, method, target, {**headers, "Content-Length": str(length)}):
                return conn.getresponse()  # answered before the body: not sent at all
            conn.send(body)  # type: ignore[arg-type]
        else:
            conn.request(method, target, body=body, headers=headers)
    except (BrokenPipeError, ConnectionResetError) as exc:
        unsent = exc
    try:
        return conn.getresponse()
    except (http.client.HTTPException, OSError):
        if unsent is not None:
            raise unsent from None
        raise


def _length(headers: dict[str, str], body: Body) -> int:
    """The body's length when it is known, else 0."""
    declared = {name.lower(): value for name, value in headers.items()}.get("content-length")
    if declared is not None:
        return int(declared)
    return len(body) if isinstance(body, bytes) else 0


def _announce(
    conn: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str]
) -> bool:
    """Send the headers with ``Expect: 100-continue``; True once the server says to
    go on (or says nothing for a while: RFC 9110 lets the client send anyway)."""
    conn.putrequest(method, target)
    for name, value in {**headers, "Expect": "100-continue"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    sock = conn.sock
    if not select.select([sock], [], [], CONTINUE_WAIT)[0]:
        return True
    head = sock.recv(4096, socket.MSG_PEEK)
    if not _INTERIM.match(head):
        return False  # the final answer came first
    end = head.find(b"\r\n\r\n")
    if end < 0:
        raise http.client.HTTPException("An unreadable interim answer")
    sock.recv(end + 4)  # that answer is read; the body follows
    return True


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive socket that is readable has been closed (or reset) by the
    server: it has nothing else to say between requests."""
    return bool(select.select([sock], [], [], 0)[0])
