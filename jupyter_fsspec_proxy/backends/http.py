"""Plain HTTP through fsspec's ``http`` filesystem: read-only; listings are the
links of an index page."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import TREE_BATCH, Backend, close_session


class HTTPBackend(Backend):
    writable = False

    async def info(self, path: str) -> dict[str, Any]:
        """A URL the server redirects to its own with a trailing slash is a folder."""
        info = await super().info(path)
        if str(info.get("url", "")).endswith("/") and not path.endswith("/"):
            return {**info, "name": path, "type": "directory", "size": 0}
        return info

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
