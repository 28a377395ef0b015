"""``POST api/ranges``: many byte ranges of many files in one streamed response.

The response is a sequence of frames, each a JSON header line followed by
``size`` raw bytes: ``{"index": i, "size": n}`` carries data of range ``i``
(a range may take several frames, in order); ``{"index": i, "error": ...,
"status": ..., "message": ..., "size": 0}`` reports that range ``i`` failed.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from .base import ProxyHandler

MEDIA_TYPE = "application/vnd.fsspec-proxy.ranges"
MAX_RANGES = 10_000


def _parse_ranges(body: dict[str, Any]) -> list[tuple[str, int | None, int | None]]:
    ranges = body.get("ranges")
    if not isinstance(ranges, list) or not 0 < len(ranges) <= MAX_RANGES:
        raise HTTPError(400, "'ranges' must be a list of 1 to %d items", MAX_RANGES)
    parsed = []
    for item in ranges:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise HTTPError(400, "Each range needs a 'path' string")
        start, end = item.get("start"), item.get("end")
        if not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (start, end)
        ):
            raise HTTPError(400, "'start' and 'end' must be integers or null")
        parsed.append((item["path"], start, end))
    return parsed


class RangesHandler(ProxyHandler):
    """Serve ``cat_ranges`` in one round trip; reading is the authorized action."""

    @authorized("read")
    async def post(self) -> None:
        ranges = _parse_ranges(self.json_body())
        self.set_header("Content-Type", MEDIA_TYPE)
        self._buffered = 0
        self._located: dict[str, tuple] = {}  # each path is resolved once per request
        for index, (path, start, end) in enumerate(ranges):
            try:
                await self._stream_range(index, path, start, end)
            except HTTPError as exc:
                error = {"status": exc.status_code, **self.error_body(exc, exc.status_code)}
                await self._frame(index, b"", error)
        self.finish(set_content_type=MEDIA_TYPE)

    async def _stream_range(
        self, index: int, path: str, start: int | None, end: int | None
    ) -> None:
        if path not in self._located:
            self._located[path] = self.locate(path)
        source, _, full = self._located[path]
        start = start or 0
        if start < 0 or (end is not None and end < 0):
            size = int((await source.backend.call("info", full)).get("size") or 0)
            start = max(size + start, 0) if start < 0 else start
            end = max(size + end, 0) if end is not None and end < 0 else end
        if end is not None and end <= start:
            await self._frame(index, b"")
            return
        sent = False
        async for chunk in source.backend.read(full, start, end, self.proxy.chunk_size):
            await self._frame(index, chunk)
            sent = True
        if not sent:
            await self._frame(index, b"")

    async def _frame(self, index: int, data: bytes, extra: dict[str, Any] | None = None) -> None:
        """Queue one frame; send once a chunk's worth is queued (small ranges share writes)."""
        header = {"index": index, "size": len(data), **(extra or {})}
        self.write(json.dumps(header).encode() + b"\n")
        if data:
            self.write(data)
        self._buffered += len(data)
        if self._buffered >= self.proxy.chunk_size:
            self._buffered = 0
            await self.flush()
