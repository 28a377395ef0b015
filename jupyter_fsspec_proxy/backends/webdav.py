"""WebDAV through webdav4. YAML has no tuples, so ``auth: [user, password]`` becomes
the pair httpx wants; uploads are one streamed PUT to a hidden name, then MOVE."""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Mapping
from typing import Any

from fsspec.spec import AbstractFileSystem

from ..conditions import WriteConditions
from ..errors import PreconditionFailed
from .base import ThreadedBackend, Upload
from .renamed import RenamedUpload

#: Blocks waiting between the request and the PUT that sends them on.
PIPE_BLOCKS = 2


class WebDAVBackend(ThreadedBackend):
    real_folders = True

    @classmethod
    def open_filesystem(cls, fs_class: type, options: Mapping[str, Any]) -> AbstractFileSystem:
        auth = options.get("auth")
        if isinstance(auth, list) and len(auth) == 2:
            options = {**options, "auth": tuple(auth)}
        return super().open_filesystem(fs_class, options)

    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        return WebDAVUpload(self, target, conditions, size)

    async def close(self) -> None:
        await self.calls.run(self.fs.client.http.close)
        await super().close()


class Pipe:
    """What the request received, read by the PUT's thread as a file; a failure
    ends the PUT (its body is cut off, so the server keeps nothing whole)."""

    def __init__(self, timeout: float) -> None:
        self.blocks: queue.Queue[bytes | BaseException] = queue.Queue(PIPE_BLOCKS)
        self.timeout = timeout  # a PUT that takes nothing for so long has failed

    def read(self, size: int = -1) -> bytes:
        block = self.blocks.get()
        if isinstance(block, BaseException):
            raise block
        return block  # b"": the end

    async def put(self, block: bytes) -> None:
        await asyncio.to_thread(self.blocks.put, block, timeout=self.timeout)

    def fail(self, error: BaseException) -> None:
        """End the PUT with ``error``, whatever it has not read yet."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.blocks.get_nowait()
        self.blocks.put_nowait(error)


class WebDAVUpload(RenamedUpload):
    """One PUT of the body to the hidden name, with its length when the request gave
    it (servers such as wsgidav read chunked bodies at half the speed). A create-only
    upload is moved with ``Overwrite: F``: the server answers 412 if the target exists."""

    backend: WebDAVBackend

    def __init__(
        self,
        backend: WebDAVBackend,
        target: str,
        conditions: WriteConditions,
        size: int | None,
    ) -> None:
        super().__init__(backend, target, conditions)
        self.size = size

    async def _open(self) -> None:
        self._pipe = Pipe(self.backend.timeout)
        client = self.backend.fs.client
        self._sending = asyncio.ensure_future(
            asyncio.to_thread(
                client.upload_fileobj, self._pipe, self.temp, overwrite=True, size=self.size
            )
        )

    async def _write(self, body: bytes) -> None:
        if self._sending.done():  # the PUT failed: say why now
            await self.backend._guard(self._sending)
        await self._pipe.put(body)

    async def _finish(self) -> None:
        await self._pipe.put(b"")
        await self.backend._guard(self._sending, timed=False)

    async def _rename(self, replace: bool) -> None:
        from webdav4.client import ResourceAlreadyExists

        client = self.backend.fs.client
        try:
            await self.backend.calls.run(client.move, self.temp, self.target, overwrite=replace)
        except ResourceAlreadyExists:
            raise PreconditionFailed("The file already exists") from None
        except Exception as exc:
            raise self.backend.translate(exc) from None

    async def _discard(self) -> None:
        if not self._sending.done():
            self._pipe.fail(ConnectionAbortedError("The upload was cut off"))
        with contextlib.suppress(Exception):
            await self._sending
        with contextlib.suppress(Exception):
            await self.backend.calls.run(self.backend.fs.rm_file, self.temp)
