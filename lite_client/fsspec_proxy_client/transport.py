"""The request seam: one small interface, one implementation per runtime."""

from __future__ import annotations

import asyncio
import http.client
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Protocol
from urllib.parse import urlsplit


class ProgressReader:
    """An upload body that reports progress to an fsspec ``Callback`` as it is read.

    A transport that sends the body whole may read ``source`` directly and
    report the browser's own progress events to ``callback`` instead.
    """

    def __init__(self, source: IO[bytes], callback: Any) -> None:
        self.source, self.callback = source, callback

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.callback.relative_update(len(data))
        return data


Body = bytes | IO[bytes] | ProgressReader | None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


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


def default_async_transport():
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
        return pool[key]

    def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        replayable = body is None or isinstance(body, bytes)
        for attempt in (1, 2):
            conn = self._connection(parts.scheme, parts.netloc)
            try:
                conn.request(method, target, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()  # a kept-alive connection the server had closed
                if attempt == 2 or not replayable:
                    raise
                continue
            names = {name.lower(): value for name, value in response.getheaders()}
            return Response(response.status, data, names)
        raise AssertionError("unreachable")
