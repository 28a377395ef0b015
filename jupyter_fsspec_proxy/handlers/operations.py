"""Filesystem operations: ls, info, exists, mkdir, copy and move."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from ..metadata import FileMeta, describe
from ..paths import is_within
from ..sources import Source
from .base import ProxyHandler


class ListHandler(ProxyHandler):
    """``GET api/ls/<source>/<path>?detail=true``: a directory's entries.

    Uploads still being received (or left by a server that was killed) are hidden.
    """

    @authorized
    async def get(self, path: str) -> None:
        source, _, full = self.locate(path)
        detail = self.bool_argument("detail", True)
        entries = await source.backend.ls(full, detail)
        if detail:
            names = client_names(source, full, [entry["name"] for entry in entries])
            result: list[Any] = list(map(describe, entries, names))
        else:
            result = client_names(source, full, entries)
        self.write_json(result)


def client_names(source: Source, listed: str, paths: list[str]) -> list[str]:
    """The names clients know for the backend ``paths`` of a listing of ``listed``:
    the children's shared prefix is replaced once, not resolved for each entry."""
    prefix = listed.rstrip("/") + "/"
    relative = source.relative(listed)
    named = f"{source.name}/{relative}/" if relative else f"{source.name}/"
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
        source, relpath, full = self.locate(path)
        info = await source.backend.info(full)
        self.write_json(FileMeta.from_info(info, f"{source.name}/{relpath}".rstrip("/")).as_json())


class ExistsHandler(ProxyHandler):
    """``GET api/exists/<source>/<path>``: ``{"exists": bool}``."""

    @authorized
    async def get(self, path: str) -> None:
        source, _, full = self.locate(path)
        self.write_json({"exists": await source.backend.exists(full)})


class MkdirHandler(ProxyHandler):
    """``POST api/mkdir/<source>/<path>?parents=true&exist_ok=true``."""

    @authorized
    async def post(self, path: str) -> None:
        source, relpath, full = self.locate(path, write=True)
        parents = self.bool_argument("parents", True)
        exist_ok = self.bool_argument("exist_ok", True)
        name = f"{source.name}/{relpath}".rstrip("/")
        existing = await source.backend.meta(full, name)
        if existing is not None and existing.type != "directory":
            raise HTTPError(409, "%r exists and is not a directory", path)
        if existing is not None and not exist_ok:
            raise HTTPError(409, "%r already exists", path)
        if existing is not None or parents:  # also a directory only implied by its files:
            # made explicit, so that it stays when they are deleted
            await source.backend.call("makedirs", full, exist_ok=True)
        else:
            await source.backend.call("mkdir", full, create_parents=False)
        self.write_json({"name": name, "type": "directory"}, status=201)


class TransferHandler(ProxyHandler):
    """``POST api/copy/<source>/<path>`` and ``api/move/...`` with body
    ``{"destination": "<path in the same source>", "recursive": false}``."""

    def initialize(self, name: str, operation: str) -> None:
        super().initialize(name)
        self.operation = operation

    @authorized
    async def post(self, path: str) -> None:
        source, relpath, full = self.locate(path, write=self.operation == "move")
        body = self.json_body()
        destination, recursive = body.get("destination"), body.get("recursive", False)
        if not isinstance(destination, str) or not isinstance(recursive, bool):
            raise HTTPError(
                400, "Body needs 'destination' (string) and optional 'recursive' (bool)"
            )
        target, target_rel, target_full = self.locate(f"{source.name}/{destination}", write=True)
        if not relpath or not target_rel:
            raise HTTPError(400, "Cannot copy or move a source root")
        if target_full == full:
            raise HTTPError(409, "Source and destination are the same path")
        if is_within(target_rel, relpath):
            raise HTTPError(400, "Cannot %s %r into itself", self.operation, path)
        transfer = getattr(source.backend, self.operation)
        await transfer(full, target_full, recursive)
        info = await source.backend.info(target_full)
        self.write_json(
            FileMeta.from_info(info, f"{source.name}/{target_rel}").as_json(), status=201
        )
