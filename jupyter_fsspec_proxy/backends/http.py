"""Plain HTTP through fsspec's ``http`` filesystem: read-only; listings are the
links of an index page; a read is one ranged GET whose answer also describes the
file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .base import TREE_BATCH, Backend, close_session

#: ``Content-Range: bytes <first>-<last>/<size>`` of a 206 answer
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
#: the headers that fsspec's ``info`` keeps from a HEAD answer
_DESCRIBING = ("ETag", "Content-MD5", "Digest", "Last-Modified")


@dataclass
class OpenResponse:
    """The streamed answer of the GET that ``open_to_read`` sent, from ``start``."""

    response: Any  # aiohttp.ClientResponse
    start: int


class HTTPBackend(Backend):
    writable = False

    async def info(self, path: str) -> dict[str, Any]:
        """A URL the server redirects to its own with a trailing slash is a folder."""
        info = await super().info(path)
        if _redirected_to_a_folder(str(info.get("url", "")), path):
            return {**info, "name": path, "type": "directory", "size": 0}
        return info

    async def open_to_read(
        self, path: str, span: tuple[int, int | None] | None = None
    ) -> tuple[dict[str, Any], Any]:
        """With ``span``, one ranged GET of those bytes, whose answer (206, with the
        size in ``Content-Range`` and the validators a HEAD would give) describes the
        file: one request to the server instead of two. Any other answer (a folder's
        redirect, a missing file, a span past the end, a server that ignores ranges
        or compresses) is set aside, and ``info`` says what the path is."""
        if span is None:
            return await super().open_to_read(path)
        response = await self._guard(self._get_range(path, *span), path=path)
        size = _size_of(response, path, span[0])
        if size is None:
            response.release()
            return await super().open_to_read(path)
        info = {"name": path, "type": "file", "size": size, "url": str(response.url)}
        info.update((key, response.headers[key]) for key in _DESCRIBING if key in response.headers)
        return info, OpenResponse(response, span[0])

    async def _get_range(self, path: str, start: int, end: int | None) -> Any:
        options = self.fs.kwargs.copy()
        headers = {**options.pop("headers", {}), "Accept-Encoding": "identity"}
        headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        session = await self.fs.set_session()
        return await session.get(self.fs.encode_url(path), headers=headers, **options)

    async def read(
        self,
        path: str,
        start: int,
        end: int | None,
        chunk: int,
        reader: Any = None,
        etag: str | None = None,
    ) -> AsyncIterator[bytes]:
        """The answer of ``open_to_read``'s GET as it arrives, when it is of these
        bytes; otherwise a range per call."""
        if not (isinstance(reader, OpenResponse) and reader.start == start):
            async for data in super().read(path, start, end, chunk, reader, etag):
                yield data
            return
        left = None if end is None else end - start
        while left is None or left > 0:
            want = chunk if left is None else min(chunk, left)
            data = await self._guard(reader.response.content.read(want), path=path)
            if not data:
                return
            yield data
            if left is not None:
                left -= len(data)

    async def close_reader(self, handle: Any) -> None:
        if isinstance(handle, OpenResponse):
            handle.response.release()  # back to the pool once read whole, else closed

    async def listing(self, path: str, detail: bool) -> list[Any]:
        """Folders (links ending in a slash) named without it, and files with their
        sizes (an index page has none: each is asked for with HEAD, a few at a time)."""
        entries = await super().listing(path, detail)
        if not detail:
            return [name.rstrip("/") for name in entries]
        limit = asyncio.Semaphore(TREE_BATCH)

        async def sized(entry: dict[str, Any]) -> dict[str, Any]:
            if entry["name"].endswith("/"):  # an index page's link to a folder
                return {**entry, "name": entry["name"].rstrip("/"), "type": "directory"}
            if entry.get("size") is None:
                async with limit:
                    entry.update(await self.info(entry["name"]))
            return entry

        return list(await asyncio.gather(*map(sized, entries)))

    async def close(self) -> None:
        await close_session(self.fs)


def _size_of(response: Any, path: str, start: int) -> int | None:
    """The file's size from a 206 answer of the URL asked for, from ``start``; else
    None."""
    if response.status != 206 or response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    if _redirected_to_a_folder(str(response.url), path):
        return None
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    return int(match[3]) if match and int(match[1]) == start else None


def _redirected_to_a_folder(url: str, path: str) -> bool:
    """Whether the server answered ``path`` from ``url``, its own with a trailing slash
    (a folder's index page)."""
    return url.endswith("/") and not path.endswith("/")
