"""HTTP byte ranges (RFC 9110, section 14), single range only."""

from __future__ import annotations

import re
from typing import NamedTuple

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)  # units are case-insensitive


#: Past the end of any file (and where the OS's offsets overflow).
BEYOND_ANY_FILE = 2**63


def _position(digits: str) -> int:
    """A byte position; more than 19 digits say only "past the end" (and are not
    worth converting: a 5000-digit number takes time)."""
    return int(digits) if len(digits) <= 19 else BEYOND_ANY_FILE


class ByteRange(NamedTuple):
    """A satisfiable range: ``start`` inclusive, ``end`` exclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable(Exception):
    """The range does not overlap the representation (answer 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """Interpret a ``Range`` header for a representation of ``size`` bytes.

    Returns ``None`` when the whole representation should be sent: no header,
    another unit, several ranges, or a syntactically invalid range (which
    RFC 9110 allows a server to ignore). Raises :class:`Unsatisfiable` when
    the range is valid but selects no byte.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = _position(first)
        if last and _position(last) < start:
            return None
        end = min(_position(last) + 1, size) if last else size
        if start >= size:
            raise Unsatisfiable
        return ByteRange(start, end)
    if not last:
        return None
    suffix = _position(last)
    if suffix == 0 or size == 0:
        raise Unsatisfiable
    return ByteRange(max(size - suffix, 0), size)


def plain_span(header: str | None) -> tuple[int, int | None] | None:
    """What a store can be asked for before the file's size is known: ``(0, None)``
    for no header, ``(first, last + 1)`` or ``(first, None)`` for a single range
    from a position; None for anything that needs the size first (a suffix, an
    invalid header)."""
    if not header:
        return 0, None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None or not match[1]:
        return None
    start = _position(match[1])
    if not match[2]:
        return start, None
    last = _position(match[2])
    return (start, last + 1) if start <= last < BEYOND_ANY_FILE else None
