"""SFTP through sshfs. sshfs connects in its constructor, so it is built as a
synchronous filesystem (its own loop in fsspec's thread) and called in the source's
threads; its ``_cat_file`` ignores ranges, so reads go through its file objects
(open, seek, read), as for any synchronous filesystem; its blocking ``rmdir`` does
nothing, so its coroutine is run."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from fsspec.asyn import sync
from fsspec.dircache import DirCache
from fsspec.spec import AbstractFileSystem

from ..conditions import WriteConditions
from ..errors import PreconditionFailed
from .base import ThreadedBackend, Upload
from .renamed import RenamedUpload


class SFTPBackend(ThreadedBackend):
    real_folders = True

    @classmethod
    def open_filesystem(cls, fs_class: type, options: Mapping[str, Any]) -> AbstractFileSystem:
        fs = fs_class(**dict(options, skip_instance_cache=True))
        fs.dircache = DirCache(use_listings_cache=False)
        return fs

    async def rmdir(self, path: str) -> None:
        """sshfs's blocking ``rmdir`` is fsspec's no-op: its coroutine does the work."""
        await self._guard(self.calls.run(sync, self.fs.loop, self.fs._rmdir, path))

    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        return SFTPUpload(self, target, conditions)

    async def close(self) -> None:
        """Close the SSH connection (on sshfs's own loop), then the threads."""
        fs = self.fs
        await self.calls.run(fs._finalize, fs.loop, fs._pool, fs._stack)
        await super().close()


class SFTPUpload(RenamedUpload):
    """A create-only upload is renamed with SFTP's plain ``rename``, which OpenSSH
    refuses over an existing file; any other with ``posix-rename``, which replaces it."""

    backend: SFTPBackend

    async def _open(self) -> None:
        self._file = await self.backend.calls.run(self.backend.fs.open, self.temp, "wb")

    async def _write(self, body: bytes) -> None:
        await self.backend.calls.run(self._file.write, body)

    async def _finish(self) -> None:
        await self.backend.calls.run(self._file.close)

    async def _rename(self, replace: bool) -> None:
        await self.backend._guard(
            self.backend.calls.run(_rename, self.backend.fs, self.temp, self.target, replace)
        )

    async def _discard(self) -> None:
        with contextlib.suppress(Exception):
            await self.backend.calls.run(self._file.close)
        with contextlib.suppress(FileNotFoundError):
            await self.backend.calls.run(self.backend.fs.rm_file, self.temp)


def _rename(fs: Any, src: str, dst: str, replace: bool) -> None:
    """Rename on one of sshfs's SFTP channels, on its loop (from a thread)."""

    from asyncssh import SFTPFailure

    async def rename() -> None:
        async with fs._pool.get() as channel:
            if replace:
                await channel.posix_rename(src, dst)
                return
            try:
                await channel.rename(src, dst)
            except SFTPFailure:  # OpenSSH: the target exists
                raise PreconditionFailed("The file already exists") from None

    sync(fs.loop, rename)
