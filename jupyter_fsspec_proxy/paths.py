"""Confinement of request paths to their source root."""

from __future__ import annotations

from urllib.parse import unquote

from tornado.web import HTTPError

_FORBIDDEN_CHARS = ("\x00", "\\")


def clean_relpath(path: str) -> str:
    """Validate a source-relative path from a request and return it normalized.

    Tornado has already percent-decoded the URL once. Anything that could name
    a location outside the source root after further decoding by a backend is
    refused: absolute paths, ``..`` and ``.`` segments (also when still
    percent-encoded), empty segments, backslashes and NUL bytes.
    """
    if any(char in path for char in _FORBIDDEN_CHARS):
        raise HTTPError(400, "Path contains a forbidden character")
    if path.startswith("/"):
        raise HTTPError(400, "Absolute paths are not allowed")
    path = path.removesuffix("/")
    if not path:
        return ""
    for segment in path.split("/"):
        decoded = unquote(unquote(segment))
        if segment == "" or decoded in (".", ".."):
            raise HTTPError(400, "Path segments may not be empty, '.' or '..'")
        if any(char in decoded for char in ("/", *_FORBIDDEN_CHARS)):
            raise HTTPError(400, "Path segment encodes a separator or forbidden character")
    return path


def split_source(path: str) -> tuple[str, str]:
    """Split ``"<source>/<rest>"`` into the source name and the rest."""
    name, _, rest = path.partition("/")
    if not name:
        raise HTTPError(400, "Path must start with a source name")
    return name, rest
