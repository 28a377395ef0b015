"""Reading the framed answer of ``POST api/ranges``."""

from __future__ import annotations

import json

from .errors import error_for


def parse_frames(body: bytes, count: int, paths: list[str]) -> list[bytes | Exception]:
    """One result per requested range: its bytes, or the exception for its error."""
    chunks: list[list[bytes]] = [[] for _ in range(count)]
    errors: dict[int, Exception] = {}
    view = memoryview(body)
    pos = 0
    while pos < len(body):
        newline = body.index(b"\n", pos)
        header = json.loads(view[pos:newline].tobytes())
        index, size = header["index"], header["size"]
        start = newline + 1
        if "error" in header:
            answer = json.dumps({"error": header["error"], "message": header["message"]})
            errors[index] = error_for(header["status"], answer.encode(), paths[index])
        else:
            chunks[index].append(view[start : start + size].tobytes())
        pos = start + size
    return [errors.get(i, b"".join(parts)) for i, parts in enumerate(chunks)]
