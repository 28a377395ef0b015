"""Conditional writes: ``If-Match`` and ``If-None-Match`` on an upload."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PreconditionFailed
from .metadata import FileMeta


def etag_matches(header: str, etag: str) -> bool:
    """True if a comma-separated list of entity tags (or ``*``) names ``etag``."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


@dataclass(frozen=True)
class WriteConditions:
    """The conditions of one write, checked before its body and again at commit."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def create_only(self) -> bool:
        """``If-None-Match: *``: the write must create the file."""
        return self.if_none_match is not None and self.if_none_match.strip() == "*"

    @property
    def any(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def verify(self, current: FileMeta | None) -> None:
        """Raise :class:`PreconditionFailed` unless a write over ``current`` (None: no
        file) is allowed."""
        if self.if_none_match and current and etag_matches(self.if_none_match, current.etag):
            raise PreconditionFailed("The file already exists")
        if self.if_match and (current is None or not etag_matches(self.if_match, current.etag)):
            raise PreconditionFailed("The file does not match If-Match")
