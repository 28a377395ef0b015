"""Normalized file metadata from the many shapes of fsspec ``info`` dicts."""

from __future__ import annotations

import functools
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

#: Types a browser shows without running anything in them; any other type of a file is
#: sent where no CSP can guard it (a presigned URL) as an attachment of no type.
INERT_TYPES = frozenset(
    {
        "text/plain", "text/csv", "text/tab-separated-values", "text/markdown",
        "application/json", "application/octet-stream", "application/pdf",
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
    }
)  # fmt: skip
_MTIME_KEYS = ("mtime", "LastModified", "last_modified", "modified", "updated", "created")
_ETAG_KEYS = ("ETag", "etag", "md5_hash", "checksum")


def entry_json(info: dict[str, Any], name: str) -> dict[str, Any]:
    """The JSON clients get for one fsspec ``info`` dict, named ``name``."""
    kind = info.get("type")
    size = int(info.get("size") or info.get("Size") or 0)
    mtime = info.get("mtime")
    if type(mtime) is not float:  # local files have a float: the rest look further
        mtime = next((_timestamp(info[k]) for k in _MTIME_KEYS if info.get(k) is not None), None)
    return {
        "name": name,
        "type": kind if kind == "directory" or kind == "other" else "file",
        "size": size,
        "mtime": mtime,
        "etag": _etag(info, size, mtime),
    }


@dataclass(frozen=True)
class FileMeta:
    """What HTTP needs to know about a file."""

    name: str
    type: str
    size: int
    mtime: float | None
    etag: str

    @classmethod
    def from_info(cls, info: dict[str, Any], name: str) -> FileMeta:
        return cls(**entry_json(info, name))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "size": self.size,
            "mtime": self.mtime,
            "etag": self.etag,
        }

    @property
    def last_modified(self) -> datetime | None:
        return None if self.mtime is None else datetime.fromtimestamp(self.mtime, timezone.utc)

    @property
    def content_type(self) -> str:
        return _content_type(self.name.rpartition("/")[2].rpartition(".")[2].lower())

    @property
    def inert(self) -> bool:
        """Whether a browser would show this file without running anything in it
        (HTML, SVG, scripts and unknown types are not)."""
        base = self.content_type.partition(";")[0]
        return base in INERT_TYPES or base.startswith(("audio/", "video/"))


@functools.lru_cache(maxsize=512)
def _content_type(suffix: str) -> str:
    """The type of files ending in ``.suffix`` (``mimetypes`` is slow for each request)."""
    guessed, encoding = mimetypes.guess_type(f"file.{suffix}")
    if encoding or not guessed:
        return "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return _timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _etag(info: dict[str, Any], size: int, mtime: float | None) -> str:
    """The backend's own tag when it has one, else, as nginx does, the modification
    time (in microseconds) and the size in hex: unique per version of one file."""
    for key in _ETAG_KEYS:
        value = info.get(key)
        if isinstance(value, str) and value:
            return value if value.startswith('"') else f'"{value}"'
    return f'"{0 if mtime is None else round(mtime * 1_000_000):x}-{size:x}"'
