"""The shared base of every backend: fsspec calls for one source, each named, each
through :meth:`Backend._guard`, the single place where timeouts apply and backend
exceptions become errors without secrets.

A backend reaches its filesystem through ``calls``: the filesystem itself when it is
asynchronous (``fs._info(...)``), else :class:`InThreads`, the same coroutines run in
the source's own threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import quote

from fsspec.asyn import AsyncFileSystem
from fsspec.dircache import DirCache
from fsspec.spec import AbstractFileSystem

from ..budget import UNLIMITED, ByteBudget
from ..conditions import WriteConditions
from ..confined import STAGED_PREFIX, is_staged
from ..errors import SourceError, translate
from ..metadata import FileMeta
from ..ranges import BEYOND_ANY_FILE

log = logging.getLogger(__name__)
THREADS_PER_SOURCE = 8
#: Files deleted or copied at once in a recursive delete or copy.
TREE_BATCH = 16
#: The most a read that runs on the event loop takes at once: meanwhile the loop sends
#: nothing (a 2.4 MB range took 1.85 ms in 1 MiB reads, 1.4-1.6 ms in 512 KiB ones;
#: 64 MiB, 3130 against 2980 MB/s).
LOOP_READ = 512 * 1024


class InThreads:
    """A synchronous filesystem's methods as coroutines, run in a thread pool of the
    source's own, so a stuck backend cannot take the threads of the others. The names
    are those of :class:`fsspec.asyn.AsyncFileSystem`."""

    def __init__(self, fs: Any, name: str, timeout: float) -> None:
        self.fs, self.name, self.timeout = fs, name, timeout
        self.executor = ThreadPoolExecutor(THREADS_PER_SOURCE, f"fsspec-proxy-{name}")

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` in a thread. A thread cannot be stopped: a call that
        outlives its timeout (the client got 504) is logged when it ends."""
        started = time.monotonic()
        timeout, name = self.timeout, self.name

        def timed() -> Any:
            try:
                return func(*args, **kwargs)
            finally:
                took = time.monotonic() - started
                if took > timeout:
                    log.warning(
                        "A call to source %r ended %.0f s after its request got 504",
                        name,
                        took - timeout,
                    )

        return await asyncio.get_running_loop().run_in_executor(self.executor, timed)

    async def _info(self, path: str) -> dict[str, Any]:
        return await self.run(self.fs.info, path)

    async def _exists(self, path: str) -> bool:
        return await self.run(self.fs.exists, path)

    async def _ls(self, path: str, detail: bool) -> list[Any]:
        return await self.run(self.fs.ls, path, detail=detail)

    async def _find(self, path: str, withdirs: bool, detail: bool) -> dict[str, Any]:
        return await self.run(self.fs.find, path, withdirs=withdirs, detail=detail)

    async def _rm_file(self, path: str) -> None:
        await self.run(self.fs.rm_file, path)

    async def _rmdir(self, path: str) -> None:
        await self.run(self.fs.rmdir, path)

    async def _cp_file(self, src: str, dst: str) -> None:
        await self.run(self.fs.cp_file, src, dst)

    async def _makedirs(self, path: str, exist_ok: bool) -> None:
        await self.run(self.fs.makedirs, path, exist_ok=exist_ok)

    async def _mkdir(self, path: str, create_parents: bool) -> None:
        await self.run(self.fs.mkdir, path, create_parents=create_parents)

    async def _put_file(self, lpath: str, rpath: str) -> None:
        await self.run(self.fs.put_file, lpath, rpath)

    def on(self, fs: Any) -> InThreads:
        """The same threads, calling ``fs``."""
        view = copy.copy(self)
        view.fs = fs
        return view

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class Backend:
    """One source's filesystem as the handlers use it: every method names the fsspec
    call it makes. Subclasses hold what one kind of store does differently."""

    #: True where reads run directly on the event loop (local files): a read is never
    #: timed out (no timer could fire during one) and never read ahead (nothing to overlap).
    reads_on_the_loop = False
    #: False for stores the proxy can only read (plain HTTP).
    writable = True
    #: True for stores whose folders exist on their own and must be made before a
    #: file is copied into them (SFTP, WebDAV); object stores imply them.
    real_folders = False

    def __init__(
        self,
        fs: AbstractFileSystem,
        timeout: float,
        secrets: Iterable[str],
        root: str = "",
        name: str = "",
        upload_budget: ByteBudget | None = None,
    ) -> None:
        self.fs = fs
        self.timeout = timeout
        #: the memory that uploads of the whole process may buffer
        self.upload_budget = upload_budget or ByteBudget(UNLIMITED, 0)
        self.secrets = frozenset(secrets)
        self.root, self.name = root, name  # to name paths in messages as clients do
        self._commit_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.calls: Any = self._calls()

    def _calls(self) -> Any:
        """What the filesystem's coroutines are awaited on."""
        return self.fs

    # -- building ------------------------------------------------------------------

    @classmethod
    def open_filesystem(cls, fs_class: type, options: Mapping[str, Any]) -> AbstractFileSystem:
        """The source's filesystem: asynchronous where it can be (awaited on the
        server's loop), never from fsspec's instance cache, without listing cache
        (listings are never stale, see docs/backends.md)."""
        options = dict(options, skip_instance_cache=True)
        if issubclass(fs_class, AsyncFileSystem) and fs_class.async_impl:
            options["asynchronous"] = True
        fs = fs_class(**options)
        fs.dircache = DirCache(use_listings_cache=False)
        return fs

    @classmethod
    def root_of(cls, fs_class: type, path: str) -> str:
        """The source's root as its filesystem names it."""
        return fs_class._strip_protocol(path)

    def translate(self, exc: BaseException, path: str = "") -> SourceError:
        """``exc`` as an error to answer with, about the backend ``path`` if known."""
        return translate(exc, self.secrets, self.root, self.name, path)

    def with_root(self, root: str) -> Backend:
        """The same filesystem (connections, threads) serving another root."""
        view = copy.copy(self)
        view.root = root
        return view

    async def _guard(self, awaitable: Awaitable[Any], timed: bool = True, path: str = "") -> Any:
        """Await with the timeout (unless ``timed`` is off) and translate errors
        (about ``path``, if given)."""
        try:
            return await (asyncio.wait_for(awaitable, self.timeout) if timed else awaitable)
        except Exception as exc:
            raise self.translate(exc, path) from None

    # -- the fsspec calls, by name ---------------------------------------------------

    async def info(self, path: str) -> dict[str, Any]:
        """``path``'s fsspec info. A source's root is always a directory, empty or
        not: an empty bucket, prefix or memory root has no entry of its own."""
        try:
            return await self._guard(self.calls._info(path), path=path)
        except SourceError as exc:
            if exc.status_code == 404 and self.is_root(path):
                return {"name": path, "type": "directory", "size": 0}
            raise

    async def exists(self, path: str) -> bool:
        return self.is_root(path) or bool(await self._guard(self.calls._exists(path), path=path))

    def is_root(self, path: str) -> bool:
        return path.rstrip("/") == self.root.rstrip("/")

    async def listing(self, path: str, detail: bool) -> list[Any]:
        """The filesystem's own ``ls`` (see :meth:`ls` for what clients get)."""
        return await self._guard(self.calls._ls(path, detail=detail), path=path)

    async def find(self, path: str) -> dict[str, Any]:
        """Everything below ``path``, folders included, with details."""
        found = self.calls._find(path, withdirs=True, detail=True)
        return await self._guard(found, path=path)

    async def rm_file(self, path: str) -> None:
        await self._guard(self.calls._rm_file(path), path=path)

    async def rmdir(self, path: str) -> None:
        await self._guard(self.calls._rmdir(path), path=path)

    async def cp_file(self, src: str, dst: str) -> None:
        if self.real_folders:
            await self.makedirs(dst.rstrip("/").rpartition("/")[0], exist_ok=True)
        await self._guard(self.calls._cp_file(src, dst), path=src)

    async def makedirs(self, path: str, exist_ok: bool = True) -> None:
        await self._guard(self.calls._makedirs(path, exist_ok=exist_ok), path=path)

    async def mkdir(self, path: str, create_parents: bool = True) -> None:
        await self._guard(self.calls._mkdir(path, create_parents=create_parents), path=path)

    async def put_file(self, lpath: str, rpath: str) -> None:
        await self._guard(self.calls._put_file(lpath, rpath), path=rpath)

    # -- reads -----------------------------------------------------------------------

    async def meta(self, path: str, name: str) -> FileMeta | None:
        """The metadata of ``path`` (``name`` as clients know it), None if missing."""
        try:
            return FileMeta.from_info(await self.info(path), name)
        except SourceError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def open_to_read(
        self, path: str, span: tuple[int, int | None] | None = None
    ) -> tuple[dict[str, Any], Any]:
        """``path``'s info, and a reader already open where that costs nothing more
        (local files; on S3, the GET of ``span``, the bytes a read will want, whose
        answer also describes the file); None: :meth:`read` opens one. Close it with
        :meth:`close_reader`."""
        return await self.info(path), None

    async def read(
        self,
        path: str,
        start: int,
        end: int | None,
        chunk: int,
        reader: Any = None,
        etag: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the bytes ``[start, end)`` of a file (to its end if ``end`` is None),
        through ``reader`` if one is open (its owner closes it). ``etag``: the version
        the caller described, for backends that can refuse another one."""
        if start >= BEYOND_ANY_FILE:
            raise self.translate(ValueError(f"Offset {start} is beyond any file's size"))
        timed = not self.reads_on_the_loop
        if self.reads_on_the_loop:  # the loop sends nothing while it reads
            chunk = min(chunk, LOOP_READ)
        handle = reader if reader is not None else await self._guard(self._open_reader(path), timed)
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
            if reader is None:
                await self.close_reader(handle)

    async def _open_reader(self, path: str) -> Any:
        return path

    async def _read_at(self, handle: Any, pos: int, size: int) -> bytes:
        """An asynchronous filesystem reads a range per call."""
        return await self.fs._cat_file(handle, start=pos, end=pos + size)

    async def close_reader(self, handle: Any) -> None:
        return None

    # -- listings and changes ------------------------------------------------------

    async def ls(self, path: str, detail: bool) -> list[Any]:
        """A listing without uploads still being received. A source's root always
        exists: an empty bucket, prefix or memory root lists as empty."""
        try:
            entries = await self.listing(path, detail)
        except SourceError as exc:
            if exc.status_code == 404 and self.is_root(path):
                return []
            raise
        return self._without_staged(entries, detail)

    def _without_staged(self, entries: list[Any], detail: bool) -> list[Any]:
        return [e for e in entries if not is_staged(e["name"] if detail else e)]

    # Paths are literal: fsspec's rm, copy and mv expand globs (``report[1].txt``
    # would name ``report1.txt``), so trees are walked with ``find`` and every
    # entry is acted on by a method that takes one path as it is.

    async def delete(self, path: str, recursive: bool) -> None:
        """Delete a file, or a directory with ``recursive``."""
        info = await self.info(path)
        if info.get("type") != "directory":
            await self.rm_file(path)
            return
        if not recursive:
            raise self.translate(IsADirectoryError("Is a directory: pass recursive=true"))
        files, folders = await self._tree(path)
        await _in_batches(self.rm_file, [(name,) for name in files])
        for folder in sorted(folders, key=len, reverse=True):  # deepest first
            await self._remove_folder(folder)

    async def copy(self, src: str, dst: str, recursive: bool) -> None:
        """Copy a file, or a directory with ``recursive``; into ``dst`` when it is an
        existing directory."""
        info = await self.info(src)
        dst = await self._into_existing_dir(src, dst)
        if info.get("type") != "directory":
            await self.cp_file(src, dst)
            return
        if not recursive:
            raise self.translate(IsADirectoryError("Is a directory: pass recursive=true"))
        files, folders = await self._tree(src)
        for folder in sorted(folders):  # parents first
            await self.makedirs(dst + folder[len(src) :], exist_ok=True)
        await _in_batches(self.cp_file, [(name, dst + name[len(src) :]) for name in files])

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        """Most filesystems have no native move: copy, then delete."""
        await self.copy(src, dst, recursive)
        await self.delete(src, recursive)

    async def _tree(self, top: str) -> tuple[list[str], list[str]]:
        """The files and the folders (``top`` included) at and below the folder ``top``."""
        found = await self.find(top)
        top = top.rstrip("/")
        files, folders = [], [top]
        for name, entry in found.items():
            name = self.fs._strip_protocol(name).rstrip("/")
            if name != top:
                (folders if entry.get("type") == "directory" else files).append(name)
        return files, folders

    async def _remove_folder(self, folder: str) -> None:
        """Remove a folder emptied by a recursive delete, where the store keeps one
        (a folder implied by its files vanished with them; one filled meanwhile stays)."""
        try:
            await self.rmdir(folder)
        except SourceError as exc:
            if exc.error not in ("FileNotFoundError", "FileExistsError", "OSError"):
                raise

    async def _into_existing_dir(self, src: str, dst: str) -> str:
        meta = await self.meta(dst, dst)
        if meta is not None and meta.type == "directory":
            return f"{dst.rstrip('/')}/{src.rstrip('/').rpartition('/')[2]}"
        return dst

    # -- uploads ---------------------------------------------------------------------

    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        """Where the body of an upload to ``target`` goes until it is committed;
        ``size`` is the body's length when the request says it."""
        return SpooledUpload(self, target, conditions)

    async def commit_upload(
        self, staged: str, target: str, conditions: WriteConditions, name: str
    ) -> None:
        """Move a completely received upload into place, if its conditions still hold.
        Within this process the check and the write happen under one lock per target."""
        async with self.commit_lock(target):
            conditions.verify(await self.meta(target, name) if conditions.any else None)
            await self.put_file(staged, target)

    def commit_lock(self, target: str) -> asyncio.Lock:
        lock = self._commit_locks.get(target)
        if lock is None:
            lock = self._commit_locks[target] = asyncio.Lock()
        return lock

    async def presign(self, path: str, expires: int, meta: FileMeta) -> str:
        """A URL that reads ``path`` without credentials for ``expires`` seconds,
        answered with the type the proxy would send (whatever type the object was
        stored with), and anything a browser would run as a download of no type: no
        CSP guards the storage's origin. Only stores that sign URLs have it
        (config.PRESIGNING); each says it in its own words (:func:`shown_as`)."""
        raise NotImplementedError("This store cannot presign a URL")

    async def close(self) -> None:
        """Release the backend's connections."""
        return None


class ThreadedBackend(Backend):
    """A synchronous filesystem: its calls run in the source's own threads, a read
    through the filesystem's file object (open, seek, read)."""

    def _calls(self) -> InThreads:
        return InThreads(self.fs, self.name, self.timeout)

    async def _open_reader(self, path: str) -> Any:
        return await self.calls.run(self.fs.open, path, "rb")

    async def _read_at(self, handle: Any, pos: int, size: int) -> bytes:
        return await self.calls.run(_pread, handle, pos, size)

    async def close_reader(self, handle: Any) -> None:
        await self.calls.run(handle.close)

    async def close(self) -> None:
        self.calls.close()


def shown_as(meta: FileMeta) -> tuple[str, str | None]:
    """The type and the ``Content-Disposition`` (None: none) a presigned URL answers
    ``meta``'s file with."""
    if meta.inert:
        return meta.content_type, None
    name = quote(meta.name.rpartition("/")[2])
    return "application/octet-stream", f"attachment; filename*=UTF-8''{name}"


def _pread(handle: Any, pos: int, size: int) -> bytes:
    if handle.tell() != pos:
        handle.seek(pos)
    return handle.read(size)


async def _in_batches(func: Callable[..., Awaitable[Any]], calls: list[tuple[str, ...]]) -> None:
    """``func`` once per argument tuple, :data:`TREE_BATCH` at a time."""
    for start in range(0, len(calls), TREE_BATCH):
        await asyncio.gather(*(func(*args) for args in calls[start : start + TREE_BATCH]))


class Upload:
    """An upload's body as it arrives; committed in one step, or discarded.

    A request that fails or is interrupted never leaves a partial target, and no
    directory is created before the whole body has arrived.
    """

    def __init__(self, backend: Backend, target: str, conditions: WriteConditions) -> None:
        self.backend = backend
        self.target = target
        self.received = 0
        #: the store itself refuses to write over an existing file, where it can
        self.create_only = conditions.create_only

    def write(self, data: bytes) -> Awaitable[None] | None:
        """Take the next bytes of the body; an awaitable means: wait for it before
        reading more (the body is being sent on)."""
        self._file.write(data)
        self.received += len(data)
        return None

    async def commit(self, conditions: WriteConditions, name: str) -> None:
        self._file.close()
        try:
            await self.backend.commit_upload(self._staged, self.target, conditions, name)
        finally:
            self.abort()

    def abort(self) -> None:
        raise NotImplementedError

    _file: BinaryIO
    _staged: Any


class SpooledUpload(Upload):
    """Staged in a temporary file on the server, then sent with ``put_file``: for
    stores without an incremental writer (docs/backends.md)."""

    def __init__(self, backend: Backend, target: str, conditions: WriteConditions) -> None:
        super().__init__(backend, target, conditions)
        fd, self._staged = tempfile.mkstemp(prefix=STAGED_PREFIX)
        self._file = os.fdopen(fd, "wb")

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._staged)


async def close_session(fs: Any) -> None:
    """Close the aiohttp session of gcsfs or fsspec's http, if it has one."""
    session, fs._session = fs._session, None
    if session is not None:
        await session.close()


_background: set[asyncio.Task[Any]] = set()


def in_background(work: Awaitable[Any], what: str) -> None:
    """Run ``work`` without waiting for it; a failure is logged, not lost."""

    async def run() -> None:
        try:
            await work
        except Exception as exc:
            log.warning("Could not %s: %s", what, exc)

    task = asyncio.ensure_future(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
