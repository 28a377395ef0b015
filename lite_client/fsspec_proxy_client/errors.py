"""One table from HTTP statuses to Python exceptions."""

from __future__ import annotations

import json

_EXCEPTION_FOR: dict[int, type[OSError] | type[ValueError]] = {
    400: ValueError,
    401: PermissionError,
    403: PermissionError,
    404: FileNotFoundError,
    409: FileExistsError,
    412: FileExistsError,  # the client's only precondition is If-None-Match: * (create)
}


class ProxyError(OSError):
    """A proxy error without a more specific Python exception; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"[{status}] {message}")
        self.status = status


def error_for(status: int, body: bytes, path: str = "") -> Exception:
    """The exception for an error answer, carrying the server's message."""
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace")[:200] or f"HTTP {status}"
    kind = _EXCEPTION_FOR.get(status)
    if kind is None:
        return ProxyError(status, message)
    if issubclass(kind, OSError) and path:
        return kind(message + f": {path!r}")
    return kind(message)
