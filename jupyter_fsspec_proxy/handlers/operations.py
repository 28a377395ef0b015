"""Filesystem operations: ls, info, exists, mkdir, copy and move."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from ..metadata import FileMeta, entry_json
from ..paths import is_within
from ..sources import SourcePath
from .base import ProxyHandler


class ListHandler(ProxyHandler):
    """``GET api/ls/<source>/<path>?detail=true``: a directory's entries.

    Uploads still being received (or left by a server that was killed) are hidden.
    """

    @authorized
    async def get(self, path: str) -> None:
        listed = self.locate(path)
        detail = self.bool_argument("detail", True)
        entries = await listed.backend.ls(listed.full, detail)
        if detail:
            names = client_names(listed, [entry["name"] for entry in entries])
            result: list[Any] = list(map(entry_json, entries, names))
        else:
            result = client_names(listed, entries)
        self.write_json(result)


def client_names(listed: SourcePath, paths: list[str]) -> list[str]:
    """The names clients know for the backend ``paths`` of a listing of ``listed``:
    the children's shared prefix is replaced once, not resolved for each entry."""
    source = listed.source
    prefix = listed.full.rstrip("/") + "/"
    named = listed.name + "/"
    return [
        named + path[len(prefix) :]
        if path.startswith(prefix)
        else f"{source.name}/{source.relative(path)}"
        for path in paths
    ]


class InfoHandler(ProxyHandler):
    """``GET api/info/<source>/<path>``: one file's or directory's metadata."""

    @authorized
    async def get(self, path: str) -> None:
        target = self.locate(path)
        info = await target.backend.info(target.full)
        self.write_json(FileMeta.from_info(info, target.name).as_json())


class ExistsHandler(ProxyHandler):
    """``GET api/exists/<source>/<path>``: ``{"exists": bool}``."""

    @authorized
    async def get(self, path: str) -> None:
        target = self.locate(path)
        self.write_json({"exists": await target.backend.exists(target.full)})


class MkdirHandler(ProxyHandler):
    """``POST api/mkdir/<source>/<path>?parents=true&exist_ok=true``."""

    @authorized
    async def post(self, path: str) -> None:
        target = self.locate(path, write=True)
        parents = self.bool_argument("parents", True)
        exist_ok = self.bool_argument("exist_ok", True)
        existing = await target.backend.meta(target.full, target.name)
        if existing is not None and existing.type != "directory":
            raise FileExistsError(f"{path!r} exists and is not a directory")
        if existing is not None and not exist_ok:
            raise FileExistsError(f"{path!r} already exists")
        if existing is not None or parents:  # also a directory only implied by its files:
            # made explicit, so that it stays when they are deleted
            await target.backend.makedirs(target.full, exist_ok=True)
        else:
            await target.backend.mkdir(target.full, create_parents=False)
        self.write_json({"name": target.name, "type": "directory"}, status=201)


class TransferHandler(ProxyHandler):
    """``POST api/copy/<source>/<path>`` and ``api/move/...`` with body
    ``{"destination": "<path in the same source>", "recursive": false}``."""

    def initialize(self, name: str, operation: str) -> None:
        super().initialize(name)
        self.operation = operation

    @authorized
    async def post(self, path: str) -> None:
        origin = self.locate(path, write=self.operation == "move")
        body = self.json_body()
        destination, recursive = body.get("destination"), body.get("recursive", False)
        if not isinstance(destination, str) or not isinstance(recursive, bool):
            raise HTTPError(
                400, "Body needs 'destination' (string) and optional 'recursive' (bool)"
            )
        target = self.locate(f"{origin.source.name}/{destination}", write=True)
        if origin.is_root or target.is_root:
            raise HTTPError(400, "Cannot copy or move a source root")
        if target.full == origin.full:
            raise HTTPError(409, "Source and destination are the same path")
        if is_within(target.relpath, origin.relpath):
            raise HTTPError(400, "Cannot %s %r into itself", self.operation, path)
        backend = origin.backend
        if self.operation == "move":
            await backend.move(origin.full, target.full, recursive)
        else:
            await backend.copy(origin.full, target.full, recursive)
        info = await backend.info(target.full)
        self.write_json(FileMeta.from_info(info, target.name).as_json(), status=201)
