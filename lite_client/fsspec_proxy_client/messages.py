"""What operations and transports exchange: requests, responses, upload bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any


class ProgressReader:
    """An upload body that reports progress to an fsspec ``Callback`` as it is read.

    A transport that sends the body whole may read ``source`` directly and
    report the browser's own progress events to ``callback`` instead.
    """

    def __init__(self, source: IO[bytes], callback: Any) -> None:
        self.source, self.callback = source, callback

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.callback.relative_update(len(data))
        return data


Body = bytes | IO[bytes] | ProgressReader | None


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: Body = None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


def replayable(method: str, body: Body) -> bool:
    """Whether a request may be sent again after a kept-alive connection dropped it:
    reads, and a PUT of bytes in memory (it replaces the same file with the same
    bytes). Never a POST or DELETE: a copy or move must not run twice."""
    if method in ("GET", "HEAD"):
        return True
    return method == "PUT" and (body is None or isinstance(body, bytes))
