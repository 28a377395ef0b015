"""Requests to a proxy as the tests send them: over a keep-alive connection, or as raw
bytes on a socket (what no well-behaved client would send)."""

from __future__ import annotations

import http.client
import json
import socket


def body_json(response) -> object:
    return json.loads(response.body)


def transfer(proxy, op: str, source: str, path: str, destination: str, **body):
    """POST ``api/{op}/{source}/{path}`` (copy or move) through the ``proxy`` fixture."""
    payload = json.dumps({"destination": destination, **body})
    return proxy("api", op, source, path, method="POST", body=payload)


class KeepAlive:
    """One keep-alive connection to a proxy on 127.0.0.1; ``headers`` go with every request."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, timeout: float = 60):
        self.port, self.headers, self.timeout = port, headers or {}, timeout
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def reconnect(self) -> None:
        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def request(self, method: str, path: str, body=None, headers=None):
        """``method`` on ``/fsspec-proxy/{path}``: the response and its whole body."""
        headers = {**self.headers, **(headers or {})}
        self.connection.request(method, f"/fsspec-proxy/{path}", body=body, headers=headers)
        response = self.connection.getresponse()
        return response, response.read()

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
        """Like ``request``: the status and the body."""
        response, data = self.request(method, path, body, headers)
        return response.status, data


def raw_connection(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"", timeout=None
) -> socket.socket:
    """A socket that has sent a request's head for ``/fsspec-proxy/{path}``, as written
    (no client library checks it), then ``body``: all of a body, or its start."""
    lines = [f"{method} /fsspec-proxy/{path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def put_head(
    port: int, path: str, headers: dict[str, str], timeout: float = 60
) -> http.client.HTTPConnection:
    """A PUT of ``/fsspec-proxy/{path}`` whose head is sent; the caller sends the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.putrequest("PUT", f"/fsspec-proxy/{path}")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    return connection
