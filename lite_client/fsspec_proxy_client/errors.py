"""The server's errors as Python exceptions: by the name the server gives (its
``error`` field: the exception it raised), else by the HTTP status (an answer of
a gateway, or an error of HTTP itself)."""

from __future__ import annotations

import json

#: The server's exception names (its own and Python's) and what the client raises.
_EXCEPTION_NAMED: dict[str, type[Exception]] = {
    "FileNotFoundError": FileNotFoundError,
    "NoSuchSource": FileNotFoundError,
    "NoSuchUpload": FileNotFoundError,
    "PermissionError": PermissionError,
    "SignedUrlRefused": PermissionError,
    "PostedSourceRefused": PermissionError,
    "FileExistsError": FileExistsError,
    "PreconditionFailed": FileExistsError,  # create-only, or a version that changed
    "IsADirectoryError": IsADirectoryError,
    "NotADirectoryError": NotADirectoryError,
    "ValueError": ValueError,
    "RecursionError": ValueError,
    "TimeoutError": TimeoutError,
    "NotImplementedError": NotImplementedError,
}
_EXCEPTION_FOR: dict[int, type[Exception]] = {
    400: ValueError,
    401: PermissionError,
    403: PermissionError,
    404: FileNotFoundError,
    409: FileExistsError,
    412: FileExistsError,
    504: TimeoutError,
}


class ProxyError(OSError):
    """A proxy error without a more specific Python exception; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"[{status}] {message}")
        self.status = status


class FileChangedError(OSError):
    """A file was replaced while a file object was reading it (its reads are pinned to
    the version it opened)."""


def error_for(status: int, body: bytes, path: str = "") -> Exception:
    """The exception for an error answer, carrying the server's message."""
    try:
        answer = json.loads(body)
        name, message = answer.get("error"), answer["message"]
    except (ValueError, KeyError, TypeError, AttributeError):
        name, message = None, body.decode("utf-8", "replace")[:200] or f"HTTP {status}"
    kind = _EXCEPTION_NAMED.get(name) or _EXCEPTION_FOR.get(status)
    if kind is None:
        return ProxyError(status, message)
    if issubclass(kind, OSError) and path:
        return kind(message + f": {path!r}")
    return kind(message)
