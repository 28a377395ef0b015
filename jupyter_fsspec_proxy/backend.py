"""Running fsspec operations for one source without blocking the event loop.

Every call goes through :meth:`Backend.call`, the single place where
timeouts apply and backend exceptions become HTTP errors without secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import Any, BinaryIO

from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

from .errors import SourceError, translate


class Backend:
    """Base class: subclasses decide where an fsspec method runs."""

    #: False where reads run directly on the loop: a timer could never fire.
    reads_can_wait = True

    def __init__(
        self,
        fs: AbstractFileSystem,
        timeout: float,
        secrets: Iterable[str],
        root: str = "",
        name: str = "",
    ) -> None:
        self.fs = fs
        self.timeout = timeout
        self.secrets = frozenset(secrets)
        self.root, self.name = root, name  # to name paths in messages as clients do

    @staticmethod
    def for_filesystem(
        fs: AbstractFileSystem, timeout: float, secrets: Iterable[str], root: str, name: str
    ) -> Backend:
        """The kind of backend that suits ``fs``."""
        if isinstance(fs, LocalFileSystem):
            kind: type[Backend] = LocalBackend
        elif isinstance(fs, AsyncFileSystem) and fs.asynchronous:
            kind = S3Backend if hasattr(fs, "_call_s3") else AsyncBackend
        else:
            kind = ThreadedBackend
        return kind(fs, timeout, secrets, root, name)

    def translate(self, exc: BaseException) -> SourceError:
        return translate(exc, self.secrets, self.root, self.name)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``fs.<method>(*args, **kwargs)`` with the timeout and error translation."""
        return await self._guard(self._run(method, *args, **kwargs))

    async def _guard(self, awaitable: Any, timed: bool = True) -> Any:
        """Await with the timeout (unless ``timed`` is off) and translate errors."""
        try:
            return await asyncio.wait_for(awaitable, self.timeout if timed else None)
        except Exception as exc:
            raise self.translate(exc) from None

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def read(
        self, path: str, start: int, end: int | None, chunk: int
    ) -> AsyncIterator[bytes]:
        """Yield the bytes ``[start, end)`` of a file (to its end if ``end`` is None)."""
        timed = self.reads_can_wait
        handle = await self._guard(self._open_reader(path), timed)
        try:
            pos = start
            while end is None or pos < end:
                want = chunk if end is None else min(chunk, end - pos)
                data = await self._guard(self._read_at(handle, pos, want), timed)
                if data:
                    yield data
                if len(data) < want:
                    return
                pos += want
        finally:
            await self._close_reader(handle)

    async def _open_reader(self, path: str) -> Any:
        return path

    async def _read_at(self, handle: Any, pos: int, size: int) -> bytes:
        raise NotImplementedError

    async def _close_reader(self, handle: Any) -> None:
        return None

    async def copy(self, src: str, dst: str, recursive: bool) -> None:
        await self.call("copy", src, dst, recursive=recursive)

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        """Async filesystems have no native move: copy, then delete."""
        await self.copy(src, dst, recursive)
        await self.call("rm", src, recursive=recursive)

    def staging_dir(self, target: str) -> str | None:
        """Where an upload is written before it is committed (None: system temp)."""
        return None

    async def commit_upload(self, staged: str, target: str) -> None:
        """Move a completely received upload into place."""
        await self.call("put_file", staged, target)


class AsyncBackend(Backend):
    """An async filesystem (s3fs, ...) awaited on the server's own event loop."""

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self.fs, "_" + method)(*args, **kwargs)

    async def _read_at(self, handle: str, pos: int, size: int) -> bytes:
        return await self.fs._cat_file(handle, start=pos, end=pos + size)


class S3Backend(AsyncBackend):
    """s3fs: a read is one ranged GET whose body is streamed, not one request per chunk."""

    async def read(
        self, path: str, start: int, end: int | None, chunk: int
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        bucket, key, version = self.fs.split_path(path)
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        if start or end is not None:  # an empty object has no satisfiable range
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        response = await self._guard(self.fs._call_s3("get_object", **params))
        body = response["Body"]
        try:
            while data := await self._guard(body.read(chunk)):
                yield data
        finally:
            body.close()


class ThreadedBackend(Backend):
    """A synchronous filesystem whose calls run in the default thread pool."""

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._in_thread(getattr(self.fs, method), *args, **kwargs)

    @staticmethod
    async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            None, partial(func, *args, **kwargs)
        )

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        await self.call("mv", src, dst, recursive=recursive)

    async def _open_reader(self, path: str) -> Any:
        return await self._in_thread(self.fs.open, path, "rb")

    async def _read_at(self, handle: Any, pos: int, size: int) -> bytes:
        return await self._in_thread(_pread, handle, pos, size)

    async def _close_reader(self, handle: Any) -> None:
        await self._in_thread(handle.close)


class LocalBackend(ThreadedBackend):
    """Local disk: cheap metadata calls and reads run directly on the loop.

    Handing a small local read to a thread costs about as much as the read
    itself, so only potentially long operations (copies, recursive deletes,
    listings of huge directories) go to the thread pool.
    """

    _DIRECT = frozenset({"info", "exists", "isdir", "isfile", "modified"})

    reads_can_wait = False

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method in self._DIRECT:
            return await self._guard(self._direct(method, *args, **kwargs), timed=False)
        return await super().call(method, *args, **kwargs)

    async def _direct(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.fs, method)(*args, **kwargs)

    async def _open_reader(self, path: str) -> BinaryIO:
        return open(path, "rb")

    async def _read_at(self, handle: BinaryIO, pos: int, size: int) -> bytes:
        return _pread(handle, pos, size)

    async def _close_reader(self, handle: BinaryIO) -> None:
        handle.close()

    def staging_dir(self, target: str) -> str:
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        return parent

    async def commit_upload(self, staged: str, target: str) -> None:
        await self._guard(self._in_thread(os.replace, staged, target))


def _pread(handle: Any, pos: int, size: int) -> bytes:
    if handle.tell() != pos:
        handle.seek(pos)
    return handle.read(size)


class StagedUpload:
    """An upload received into a temporary file, then committed in one step.

    A request that fails or is interrupted never leaves a partial target:
    the staged file is removed and the target is untouched.
    """

    PREFIX = ".fsspec-proxy-upload-"

    def __init__(self, backend: Backend, target: str) -> None:
        self.backend = backend
        self.target = target
        fd, self.staged = tempfile.mkstemp(prefix=self.PREFIX, dir=backend.staging_dir(target))
        self._file = os.fdopen(fd, "wb")
        self.received = 0

    @classmethod
    def is_staged(cls, path: str) -> bool:
        return path.rstrip("/").rpartition("/")[2].startswith(cls.PREFIX)

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.received += len(data)

    async def commit(self) -> None:
        self._file.close()
        try:
            await self.backend.commit_upload(self.staged, self.target)
        finally:
            self._discard()

    def abort(self) -> None:
        self._file.close()
        self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.staged)
