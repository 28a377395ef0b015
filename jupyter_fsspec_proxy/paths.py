"""Validation of request paths before any source sees them."""

from __future__ import annotations

from urllib.parse import unquote

_FORBIDDEN_CHARS = ("\x00", "\\")
MAX_PATH_LENGTH = 4096
MAX_SEGMENTS = 256


def clean_relpath(path: str) -> str:
    """Validate a source-relative path from a request and return it normalized.

    Tornado has already percent-decoded the URL once. Anything that could name
    a location outside the source root after further decoding by a backend is
    refused with ``ValueError``: absolute paths, ``..`` and ``.`` segments (also
    when still percent-encoded), empty segments, backslashes, NUL bytes, and
    paths too long or too deep for any filesystem.
    """
    if len(path) > MAX_PATH_LENGTH or path.count("/") >= MAX_SEGMENTS:
        raise ValueError(
            f"Path too long: at most {MAX_PATH_LENGTH} characters in {MAX_SEGMENTS} segments"
        )
    if any(char in path for char in _FORBIDDEN_CHARS):
        raise ValueError("Path contains a forbidden character")
    if path.startswith("/"):
        raise ValueError("Absolute paths are not allowed")
    path = path.removesuffix("/")
    if not path:
        return ""
    for segment in path.split("/"):
        decoded = unquote(unquote(segment))
        if segment == "" or decoded in (".", ".."):
            raise ValueError("Path segments may not be empty, '.' or '..'")
        if any(char in decoded for char in ("/", *_FORBIDDEN_CHARS)):
            raise ValueError("Path segment encodes a separator or forbidden character")
    return path


def split_source(path: str) -> tuple[str, str]:
    """Split ``"<source>/<rest>"`` into the source name and the rest."""
    name, _, rest = path.partition("/")
    if not name:
        raise ValueError("Path must start with a source name")
    return name, rest


def is_within(path: str, ancestor: str) -> bool:
    """True if the source-relative ``path`` is ``ancestor`` or below it."""
    return path == ancestor or path.startswith(ancestor + "/")
