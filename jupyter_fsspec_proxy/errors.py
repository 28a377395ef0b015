"""The core's exceptions, one table from exceptions to HTTP answers, and secret scrubbing.

Nothing below the handlers raises ``tornado.web.HTTPError``: the core raises Python
exceptions (or the few of its own below), and :func:`status_for` maps them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote


class NoSuchSource(LookupError):
    """No source of that name (or none the caller may read): 404."""


class SourceUnavailable(RuntimeError):
    """The source is configured but its backend failed to start: 503."""


class PreconditionFailed(Exception):
    """An ``If-Match``/``If-None-Match`` condition does not hold: 412."""


class PayloadTooLarge(ValueError):
    """A request body over its limit: 413."""


class NoSuchUpload(LookupError):
    """No upload session of that id for this caller and path (or it expired): 404."""


class OffsetMismatch(Exception):
    """A piece of an upload sent at another offset than the session's: 409, with the
    session's ``offset`` (where the client resumes)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class RetryLater(Exception):
    """A limit is reached for now; ``retry_after`` seconds should free room."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyUploads(RetryLater):
    """The caller has as many open upload sessions as allowed: 429."""


class UploadsFull(RetryLater):
    """The server has as many open upload sessions as allowed: 503."""


class SignedUrlRefused(PermissionError):
    """A signed URL that is expired, forged, or whose signer may no longer read: 403."""


# Checked in order: subclasses before their bases.
_STATUS_FOR: tuple[tuple[type[BaseException], int], ...] = (
    (NoSuchSource, 404),
    (SourceUnavailable, 503),
    (PreconditionFailed, 412),
    (PayloadTooLarge, 413),
    (NoSuchUpload, 404),
    (OffsetMismatch, 409),
    (TooManyUploads, 429),
    (UploadsFull, 503),
    (SignedUrlRefused, 403),
    (FileNotFoundError, 404),
    (PermissionError, 403),
    (FileExistsError, 409),
    (IsADirectoryError, 400),
    (NotADirectoryError, 409),
    (asyncio.TimeoutError, 504),
    (TimeoutError, 504),
    (NotImplementedError, 405),
    (RecursionError, 400),
    (ValueError, 400),
)

_MIN_SECRET_LENGTH = 4


class SourceError(Exception):
    """A failure with its HTTP status and a message that is safe to send."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.error = error
        self.message = message


def known_status(exc: BaseException) -> int | None:
    """The HTTP status of an exception in the table (or a SourceError), else None."""
    if isinstance(exc, SourceError):
        return exc.status_code
    for kind, status in _STATUS_FOR:
        if isinstance(exc, kind):
            return status
    return None


def status_for(exc: BaseException) -> int:
    """The HTTP status for a backend exception; 502 for anything unexpected."""
    return known_status(exc) or 502


def translate(
    exc: BaseException, secrets: Iterable[str], root: str = "", name: str = ""
) -> SourceError:
    """Turn a backend exception into an error whose message holds no secret and
    names paths as clients do (``<source>/<path>``, not the server's root)."""
    if isinstance(exc, SourceError):
        return exc
    status = status_for(exc)
    if status == 504:
        message = "The storage backend did not answer in time"
    else:
        message = scrub(str(exc) or type(exc).__name__, secrets)
        message = hide_root(message, root, name)
        if status == 502:
            message = f"Storage backend failed: {message}"
    return SourceError(status, type(exc).__name__, message)


def hide_root(text: str, root: str, name: str) -> str:
    """Name the server's root as the source, also where a URL quotes it
    (``bucket/prefix`` in an S3 error shows as ``bucket?prefix=prefix%2F``)."""
    root = root.strip("/")
    if not root:
        return text
    bucket, _, prefix = root.partition("/")
    forms = {root, quote(root), quote(root, safe="")}
    if prefix:
        forms |= {quote(prefix + "/", safe=""), quote(prefix, safe="")}
    forms.add(bucket)
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= _MIN_SECRET_LENGTH:
            text = text.replace(form, name)
    return text


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret that occurs in ``text``, longest first, so that a secret
    containing another is never left half-visible."""
    for secret in sorted(secrets, key=len, reverse=True):
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
