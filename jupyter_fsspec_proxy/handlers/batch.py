"""``POST api/ranges``: many byte ranges of many files in one streamed response.

The response is a sequence of frames, each a JSON header line followed by
``size`` raw bytes: ``{"index": i, "size": n}`` carries data of range ``i``
(a range may take several frames, in order); ``{"index": i, "error": ...,
"status": ..., "message": ..., "size": 0}`` reports that range ``i`` failed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from ..sources import SourcePath
from .base import ProxyHandler, http_status

MEDIA_TYPE = "application/vnd.fsspec-proxy.ranges"
MAX_RANGES = 10_000
PREFETCH = 16  # ranges read ahead at once at most
READ_AHEAD = 4 * 2**20  # bytes one request may read ahead of what it has sent


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

    body_action = "read"

    @authorized("read")
    async def post(self) -> None:
        ranges = _parse_ranges(self.json_body())
        self.set_header("Content-Type", MEDIA_TYPE)
        self._buffered = 0
        self._ahead = 0  # bytes read ahead, not yet handed to the connection
        self._located: dict[str, SourcePath] = {}  # resolved once per request
        prefetched: dict[int, tuple[asyncio.Future[bytes], int]] = {}
        budget = self.manager.readahead_budget
        try:
            for index, (path, start, end) in enumerate(ranges):
                self._prefetch(ranges, index, prefetched)
                try:
                    if index in prefetched:
                        reading, size = prefetched.pop(index)
                        try:
                            await self._frame(index, await reading)
                        finally:
                            self._ahead -= size
                            budget.give_back(size)
                    else:
                        await self._stream_range(index, path, start, end)
                except Exception as exc:
                    status = http_status(exc)
                    if status is None:
                        raise
                    error = {"status": status, **self.error_body(exc, status)}
                    await self._frame(index, b"", error)
        finally:
            for reading, size in prefetched.values():
                reading.cancel()
                budget.give_back(size)
            # collect what the cancelled reads raised, so nothing is left unretrieved
            await asyncio.gather(*(r for r, _ in prefetched.values()), return_exceptions=True)
        self.finish(set_content_type=MEDIA_TYPE)

    def _locate_once(self, path: str) -> SourcePath:
        if path not in self._located:
            self._located[path] = self.locate(path)
        return self._located[path]

    def _prefetch(self, ranges: list, index: int, prefetched: dict) -> None:
        """Start reading the next small ranges of backends that make reads wait (S3, ...),
        so that their latencies overlap; frames still go out in order. What is read
        ahead is bounded per request (``READ_AHEAD``) and for the whole process
        (``readahead_memory``): a client that stops reading stops the reading ahead.
        Local reads are quicker done one by one."""
        for ahead in range(index, min(index + PREFETCH, len(ranges))):
            path, start, end = ranges[ahead]
            if ahead in prefetched or start is None or end is None:
                continue
            if not 0 <= start < end <= start + self.manager.chunk_size:
                continue
            try:
                target = self._locate_once(path)
            except Exception:
                continue  # reported in order, when its turn comes
            if target.backend.reads_on_the_loop:
                continue
            size = end - start
            if self._ahead + size > READ_AHEAD or not self.manager.readahead_budget.try_take(size):
                return  # the rest is read in its turn
            self._ahead += size
            prefetched[ahead] = (
                asyncio.ensure_future(self._read_whole(target, start, end)),
                size,
            )

    async def _read_whole(self, target: SourcePath, start: int, end: int) -> bytes:
        reading = target.backend.read(target.full, start, end, end - start)
        return b"".join([chunk async for chunk in reading])

    async def _stream_range(
        self, index: int, path: str, start: int | None, end: int | None
    ) -> None:
        target = self._locate_once(path)
        start = start or 0
        if start < 0 or (end is not None and end < 0):
            size = int((await target.backend.info(target.full)).get("size") or 0)
            start = max(size + start, 0) if start < 0 else start
            end = max(size + end, 0) if end is not None and end < 0 else end
        if end is not None and end <= start:
            await self._frame(index, b"")
            return
        sent = False
        chunk_size = self.manager.chunk_size
        async for chunk in target.backend.read(target.full, start, end, chunk_size):
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
        if self._buffered >= self.manager.chunk_size:
            self._buffered = 0
            await self.send_now()
