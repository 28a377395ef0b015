"""One table from backend exceptions to HTTP answers, and secret scrubbing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from tornado.web import HTTPError

# Checked in order: subclasses before their bases.
_STATUS_FOR: tuple[tuple[type[BaseException], int], ...] = (
    (FileNotFoundError, 404),
    (PermissionError, 403),
    (FileExistsError, 409),
    (IsADirectoryError, 400),
    (NotADirectoryError, 400),
    (asyncio.TimeoutError, 504),
    (TimeoutError, 504),
    (NotImplementedError, 405),
    (ValueError, 400),
)

_MIN_SECRET_LENGTH = 4


class SourceError(HTTPError):
    """An HTTP error raised from a backend failure, with a safe message."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(status, "%s", message)
        self.error = error
        self.message = message


def status_for(exc: BaseException) -> int:
    """The HTTP status for a backend exception; 502 for anything unexpected."""
    for kind, status in _STATUS_FOR:
        if isinstance(exc, kind):
            return status
    return 502


def translate(
    exc: BaseException, secrets: Iterable[str], root: str = "", name: str = ""
) -> SourceError:
    """Turn a backend exception into an HTTP error whose message holds no secret
    and names paths as clients do (``<source>/<path>``, not the server's root)."""
    status = status_for(exc)
    if status == 504:
        message = "The storage backend did not answer in time"
    else:
        message = scrub(str(exc) or type(exc).__name__, secrets)
        if root.strip("/"):
            message = message.replace(root.rstrip("/"), name)
        if status == 502:
            message = f"Storage backend failed: {message}"
    return SourceError(status, type(exc).__name__, message)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret that occurs in ``text``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def secret_strings(kwargs: Mapping[str, Any]) -> set[str]:
    """Every string value, at any depth, of a source's storage options."""
    found: set[str] = set()
    stack: list[Any] = [kwargs]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set)):
            stack.extend(value)
        elif isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
            found.add(value)
    return found
