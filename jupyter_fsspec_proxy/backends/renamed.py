"""Uploads written to a hidden name as the body arrives, then renamed into place
(SFTP, WebDAV): the target appears whole or not at all."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable

from ..conditions import WriteConditions
from ..confined import STAGED_PREFIX
from .base import ThreadedBackend, Upload, in_background

#: Bytes gathered before they are handed to the store's writer (a thread hop each).
BLOCK = 4 * 2**20


class RenamedUpload(Upload):
    """Written under a hidden name at the source's root (hidden from listings; the
    root is made if it is missing, as a per-user root is on its first write). At
    commit the target's folders are made and the file renamed onto the target: with
    replacement for a plain write, without for a create-only one, which the server
    then refuses if the target exists. Anything else deletes the hidden file.

    A store's subclass says how to open, write, finish, rename and discard it.
    """

    backend: ThreadedBackend

    def __init__(self, backend: ThreadedBackend, target: str, conditions: WriteConditions):
        super().__init__(backend, target, conditions)
        self.temp = f"{backend.root.rstrip('/')}/{STAGED_PREFIX}{secrets.token_hex(8)}"
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._opened = False
        self._ended = False

    async def _open(self) -> None:
        raise NotImplementedError

    async def _write(self, body: bytes) -> None:
        raise NotImplementedError

    async def _finish(self) -> None:
        """The hidden file is whole on the store."""
        raise NotImplementedError

    async def _rename(self, replace: bool) -> None:
        """Rename the hidden file onto the target; PreconditionFailed if ``replace`` is
        off and the target exists."""
        raise NotImplementedError

    async def _discard(self) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> Awaitable[None] | None:
        self.received += len(data)
        self._chunks.append(data)
        self._buffered += len(data)
        return self._flush() if self._buffered >= BLOCK else None

    async def _flush(self) -> None:
        body = b"".join(self._chunks)
        self._chunks, self._buffered = [], 0
        if not self._opened:
            await self.backend.makedirs(self.backend.root, exist_ok=True)
            self._opened = True  # from now on, abort discards
            await self._open()
        if body and not self._ended:
            await self._write(body)

    async def commit(self, conditions: WriteConditions, name: str) -> None:
        try:
            await self._flush()
            await self._finish()
            backend = self.backend
            async with backend.commit_lock(self.target):
                if conditions.any and not conditions.create_only:
                    conditions.verify(await backend.meta(self.target, name))
                parent = self.target.rstrip("/").rpartition("/")[0]
                if parent.rstrip("/") != backend.root.rstrip("/"):
                    await backend.makedirs(parent, exist_ok=True)
                await self._rename(replace=not conditions.create_only)
            self._opened = False  # renamed: nothing to discard
        finally:
            self.abort()

    def abort(self) -> None:
        self._ended = True
        self._chunks, self._buffered = [], 0
        if self._opened:
            self._opened = False
            in_background(self._discard(), f"discard the upload of {self.target!r}")
