"""Running fsspec operations for one source without blocking the event loop.

Every call goes through :meth:`Backend.call`, the single place where
timeouts apply and backend exceptions become errors without secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import mimetypes
import os
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import quote

from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

from .budget import UNLIMITED, ByteBudget
from .conditions import WriteConditions
from .confined import STAGED_PREFIX, ConfinedRoot, StagedFile, is_staged
from .errors import PreconditionFailed, SourceChanged, SourceError, translate
from .metadata import FileMeta

log = logging.getLogger(__name__)
THREADS_PER_SOURCE = 8
MAX_OFFSET = 2**63  # no file is longer; larger offsets overflow the OS's
#: S3 uploads: bytes per part (S3's minimum is 5 MiB), and parts sent at once.
PART_SIZE = 8 * 2**20
PARTS_IN_FLIGHT = 2
#: Every this many parts, the part size doubles: S3 allows 10,000 parts.
PARTS_PER_SIZE = 1000
#: Files deleted or copied at once in a recursive delete or copy.
TREE_BATCH = 16


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

    @staticmethod
    def for_filesystem(
        fs: AbstractFileSystem,
        timeout: float,
        secrets: Iterable[str],
        root: str,
        name: str,
        upload_budget: ByteBudget | None = None,
    ) -> Backend:
        """The kind of backend that suits ``fs``."""
        if isinstance(fs, LocalFileSystem):
            kind: type[Backend] = LocalBackend
        elif isinstance(fs, AsyncFileSystem) and fs.asynchronous:
            kind = S3Backend if hasattr(fs, "_call_s3") else AsyncBackend
        else:
            kind = ThreadedBackend
        return kind(fs, timeout, secrets, root, name, upload_budget)

    def translate(self, exc: BaseException, path: str = "") -> SourceError:
        """``exc`` as an error to answer with, about the backend ``path`` if known."""
        return translate(exc, self.secrets, self.root, self.name, path)

    def with_root(self, root: str) -> Backend:
        """The same filesystem (connections, threads) serving another root."""
        view = copy.copy(self)
        view.root = root
        return view

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``fs.<method>(*args, **kwargs)`` with the timeout and error translation."""
        path = args[0] if args and isinstance(args[0], str) else ""
        return await self._guard(self._run(method, *args, **kwargs), path=path)

    async def _guard(self, awaitable: Any, timed: bool = True, path: str = "") -> Any:
        """Await with the timeout (unless ``timed`` is off) and translate errors."""
        try:
            return await (asyncio.wait_for(awaitable, self.timeout) if timed else awaitable)
        except Exception as exc:
            raise self.translate(exc, path) from None

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def info(self, path: str) -> dict[str, Any]:
        """``path``'s fsspec info. A source's root is always a directory, empty or
        not: an empty bucket, prefix or memory root has no entry of its own."""
        try:
            return await self.call("info", path)
        except SourceError as exc:
            if exc.status_code == 404 and self.is_root(path):
                return {"name": path, "type": "directory", "size": 0}
            raise

    async def exists(self, path: str) -> bool:
        return self.is_root(path) or bool(await self.call("exists", path))

    def is_root(self, path: str) -> bool:
        return path.rstrip("/") == self.root.rstrip("/")

    async def meta(self, path: str, name: str) -> FileMeta | None:
        """The metadata of ``path`` (``name`` as clients know it), None if missing."""
        try:
            return FileMeta.from_info(await self.info(path), name)
        except SourceError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def open_to_read(self, path: str) -> tuple[dict[str, Any], Any]:
        """``path``'s info, and a reader already open where that costs nothing more
        (local files); None: :meth:`read` opens one. Close it with :meth:`close_reader`."""
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
        if start >= MAX_OFFSET:
            raise self.translate(ValueError(f"Offset {start} is beyond any file's size"))
        timed = self.reads_can_wait
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
        raise NotImplementedError

    async def close_reader(self, handle: Any) -> None:
        return None

    async def ls(self, path: str, detail: bool) -> list[Any]:
        """A listing without uploads still being received. A source's root always
        exists: an empty bucket, prefix or memory root lists as empty."""
        try:
            entries = await self.call("ls", path, detail=detail)
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
            await self.call("rm_file", path)
            return
        if not recursive:
            raise self.translate(IsADirectoryError("Is a directory: pass recursive=true"))
        files, folders = await self._tree(path)
        await self._each("rm_file", [(name,) for name in files])
        for folder in sorted(folders, key=len, reverse=True):  # deepest first
            await self._remove_folder(folder)

    async def copy(self, src: str, dst: str, recursive: bool) -> None:
        """Copy a file, or a directory with ``recursive``; into ``dst`` when it is an
        existing directory."""
        info = await self.info(src)
        dst = await self._into_existing_dir(src, dst)
        if info.get("type") != "directory":
            await self.call("cp_file", src, dst)
            return
        if not recursive:
            raise self.translate(IsADirectoryError("Is a directory: pass recursive=true"))
        files, folders = await self._tree(src)
        for folder in sorted(folders):  # parents first
            await self.call("makedirs", dst + folder[len(src) :], exist_ok=True)
        await self._each("cp_file", [(name, dst + name[len(src) :]) for name in files])

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        """Most filesystems have no native move: copy, then delete."""
        await self.copy(src, dst, recursive)
        await self.delete(src, recursive)

    async def _tree(self, top: str) -> tuple[list[str], list[str]]:
        """The files and the folders (``top`` included) at and below the folder ``top``."""
        found = await self.call("find", top, withdirs=True, detail=True)
        top = top.rstrip("/")
        files, folders = [], [top]
        for name, entry in found.items():
            name = self.fs._strip_protocol(name).rstrip("/")
            if name != top:
                (folders if entry.get("type") == "directory" else files).append(name)
        return files, folders

    async def _each(self, method: str, calls: list[tuple[str, ...]]) -> None:
        """``method`` once per argument tuple, a few at a time."""
        for start in range(0, len(calls), TREE_BATCH):
            batch = calls[start : start + TREE_BATCH]
            await asyncio.gather(*(self.call(method, *args) for args in batch))

    async def _remove_folder(self, folder: str) -> None:
        """Remove a folder emptied by a recursive delete, where the store keeps one
        (a folder implied by its files vanished with them; one filled meanwhile stays)."""
        try:
            await self.call("rmdir", folder)
        except SourceError as exc:
            if exc.error not in ("FileNotFoundError", "FileExistsError", "OSError"):
                raise

    async def _into_existing_dir(self, src: str, dst: str) -> str:
        meta = await self.meta(dst, dst)
        if meta is not None and meta.type == "directory":
            return f"{dst.rstrip('/')}/{src.rstrip('/').rpartition('/')[2]}"
        return dst

    def start_upload(self, target: str) -> Upload:
        """Where the body of an upload to ``target`` goes until it is committed."""
        return SpooledUpload(self, target)

    async def commit_upload(
        self, staged: str, target: str, conditions: WriteConditions, name: str
    ) -> None:
        """Move a completely received upload into place, if its conditions still hold.
        Within this process the check and the write happen under one lock per target."""
        async with self.commit_lock(target):
            conditions.verify(await self.meta(target, name) if conditions.any else None)
            await self.call("put_file", staged, target)

    def commit_lock(self, target: str) -> asyncio.Lock:
        lock = self._commit_locks.get(target)
        if lock is None:
            lock = self._commit_locks[target] = asyncio.Lock()
        return lock

    async def close(self) -> None:
        """Release the backend's connections."""
        return None


class AsyncBackend(Backend):
    """An async filesystem (s3fs, ...) awaited on the server's own event loop."""

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self.fs, "_" + method)(*args, **kwargs)

    async def _read_at(self, handle: str, pos: int, size: int) -> bytes:
        return await self.fs._cat_file(handle, start=pos, end=pos + size)


class S3Backend(AsyncBackend):
    """s3fs: a read is one ranged GET whose body is streamed, not one request per chunk;
    a create-only upload is a conditional write that S3 itself decides."""

    async def read(
        self,
        path: str,
        start: int,
        end: int | None,
        chunk: int,
        reader: Any = None,
        etag: str | None = None,
    ) -> AsyncIterator[bytes]:
        """One ranged GET (``open_to_read`` never opens a reader here), of the version
        ``etag`` names when given: S3 refuses it if the object changed since."""
        if end is not None and end <= start:
            return
        bucket, key, version = self.fs.split_path(path)
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        if etag:
            params["IfMatch"] = etag
        if start or end is not None:  # an empty object has no satisfiable range
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        body = (await self.call_s3("get_object", **params))["Body"]
        try:
            while data := await self._guard(body.read(chunk)):
                yield data
        finally:
            body.close()

    def start_upload(self, target: str) -> Upload:
        return S3Upload(self, target)

    async def call_s3(self, method: str, **params: Any) -> Any:
        """One S3 API call, through :meth:`_guard` like every other call."""
        path = f"{params['Bucket']}/{params.get('Key', '')}".rstrip("/")
        return await self._guard(self._s3(method, params), path=path)

    async def _s3(self, method: str, params: dict[str, Any]) -> Any:
        """S3's 412: to a create-only write (s3fs makes it FileExistsError), the file
        exists; to a read of one version (``IfMatch``), the file changed."""
        try:
            return await self.fs._call_s3(method, **params)
        except Exception as exc:
            if _s3_status(exc) == 412 and "IfNoneMatch" in params:
                raise PreconditionFailed("The file already exists") from None
            if _s3_status(exc) == 412 and "IfMatch" in params:
                raise SourceChanged() from None
            raise

    async def presign(self, path: str, expires: int, meta: FileMeta) -> str:
        """A URL that reads ``path`` without credentials for ``expires`` seconds.
        S3 answers it with the type the proxy would send, whatever type the object
        was stored with, and anything a browser would run as a download of no type:
        no CSP guards the storage's origin."""
        if meta.inert:
            shown = {"ResponseContentType": meta.content_type}
        else:
            name = quote(meta.name.rpartition("/")[2])
            shown = {
                "ResponseContentType": "application/octet-stream",
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{name}",
            }
        return await self.call("url", path, expires=expires, **shown)

    async def close(self) -> None:
        client = getattr(self.fs, "_s3", None)
        if client is not None:
            self.fs._s3 = None
            await client.__aexit__(None, None, None)


def _s3_status(exc: BaseException) -> int | None:
    """The HTTP status of S3's answer behind an exception (s3fs turns botocore's
    error into a Python one and keeps it as the cause)."""
    for error in (exc, exc.__cause__):
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


class ThreadedBackend(Backend):
    """A synchronous filesystem whose calls run in a thread pool of its own, so a
    stuck backend cannot take the threads of the others."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executor = ThreadPoolExecutor(THREADS_PER_SOURCE, f"fsspec-proxy-{self.name}")

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._in_thread(getattr(self.fs, method), *args, **kwargs)

    async def _in_thread(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` in this source's threads. A thread cannot be stopped: a call
        that outlives its timeout (the client got 504) is logged when it ends."""
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

    async def _open_reader(self, path: str) -> Any:
        return await self._in_thread(self.fs.open, path, "rb")

    async def _read_at(self, handle: Any, pos: int, size: int) -> bytes:
        return await self._in_thread(_pread, handle, pos, size)

    async def close_reader(self, handle: Any) -> None:
        await self._in_thread(handle.close)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class LocalBackend(ThreadedBackend):
    """Local disk through :class:`ConfinedRoot`: no path leads out of the root.

    Handing a small local read to a thread costs about as much as the read
    itself, so metadata calls and reads run directly on the loop; only
    potentially long operations (copies, recursive deletes, listings) go to
    the thread pool.
    """

    _DIRECT = frozenset({"info", "exists"})

    reads_can_wait = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.local = ConfinedRoot(self.root)

    def with_root(self, root: str) -> Backend:
        view = super().with_root(root)
        assert isinstance(view, LocalBackend)
        view.local = ConfinedRoot(root)
        return view

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method in self._DIRECT:
            return self._now(getattr(self.local, method), *args, **kwargs)
        return await super().call(method, *args, **kwargs)

    def _now(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """A quick local call, run on the loop, its errors translated."""
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            raise self.translate(exc) from None

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._in_thread(getattr(self.local, method), *args, **kwargs)

    async def delete(self, path: str, recursive: bool) -> None:
        await self.call("rm", path, recursive=recursive)

    async def copy(self, src: str, dst: str, recursive: bool) -> None:
        await self.call("copy", src, dst, recursive=recursive)

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        await self.call("move", src, dst)

    def _without_staged(self, entries: list[Any], detail: bool) -> list[Any]:
        return entries  # ConfinedRoot.ls never lists them

    async def _open_reader(self, path: str) -> int:
        return self.local.open_read_fd(path)

    async def _read_at(self, fd: int, pos: int, size: int) -> bytes:
        return os.pread(fd, size, pos)

    async def close_reader(self, fd: int) -> None:
        os.close(fd)

    async def open_to_read(self, path: str) -> tuple[dict[str, Any], int | None]:
        return self._now(self.local.open_with_info, path)

    def start_upload(self, target: str) -> Upload:
        try:
            self.local.check_target(target)
            return LocalUpload(self, target)
        except Exception as exc:
            raise self.translate(exc) from None

    async def commit_upload(
        self, staged: Any, target: str, conditions: WriteConditions, name: str
    ) -> None:
        """Create-only writes are an atomic link (EEXIST: someone was first); others
        check their condition and rename under the target's lock."""
        async with self.commit_lock(target):
            if conditions.any and not conditions.create_only:
                conditions.verify(await self.meta(target, name))
            await self._guard(self._place(staged, target, conditions), timed=False)

    async def _place(self, staged: StagedFile, target: str, conditions: WriteConditions) -> None:
        with self.local.parent(target, create=True) as (fd, leaf):
            self.local.refuse_link_out(fd, leaf)
            if not conditions.create_only:
                staged.replace(fd, leaf)
                return
            try:
                staged.create(fd, leaf)
            except FileExistsError:
                raise PreconditionFailed("The file already exists") from None


def _pread(handle: Any, pos: int, size: int) -> bytes:
    if handle.tell() != pos:
        handle.seek(pos)
    return handle.read(size)


class Upload:
    """An upload's body as it arrives; committed in one step, or discarded.

    A request that fails or is interrupted never leaves a partial target, and no
    directory is created before the whole body has arrived.
    """

    def __init__(self, backend: Backend, target: str) -> None:
        self.backend = backend
        self.target = target
        self.received = 0

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
    """Staged in a temporary file on the server, then sent with ``put_file``."""

    def __init__(self, backend: Backend, target: str) -> None:
        super().__init__(backend, target)
        fd, self._staged = tempfile.mkstemp(prefix=STAGED_PREFIX)
        self._file = os.fdopen(fd, "wb")

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._staged)


class LocalUpload(Upload):
    """Staged under a hidden name in the deepest existing directory on the way to
    the target, so the commit is a rename on the same disk."""

    def __init__(self, backend: LocalBackend, target: str) -> None:
        super().__init__(backend, target)
        fd = backend.local.nearest_existing_dir(target)
        try:
            self._staged = StagedFile(fd)
        finally:
            os.close(fd)
        self._file = os.fdopen(os.dup(self._staged.fd), "wb")

    def abort(self) -> None:
        self._file.close()
        self._staged.discard()


class S3Upload(Upload):
    """Streamed to S3 as it arrives, never staged on disk.

    A body shorter than one part is a single ``PutObject`` at commit. A longer
    one is a multipart upload: parts are sent while the body arrives, at most
    :data:`PARTS_IN_FLIGHT` at once (reading from the client waits meanwhile,
    so memory stays bounded), and only a commit completes it; anything else
    aborts it, so the object appears whole or not at all.
    """

    backend: S3Backend

    def __init__(self, backend: S3Backend, target: str) -> None:
        super().__init__(backend, target)
        self.bucket, self.key, _ = backend.fs.split_path(target)
        self.content_type = mimetypes.guess_type(target)[0] or "application/octet-stream"
        self._chunks: list[bytes] = []  # received, not sent yet
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[asyncio.Task[dict[str, Any]]] = []
        self._ended = False
        self._may_wait = backend.upload_budget.wait  # seconds left to wait for memory

    def write(self, data: bytes) -> Awaitable[None] | None:
        """Buffer ``data`` within the process's upload memory (waiting for room if
        other uploads hold it all); send a part once one is full."""
        self.received += len(data)
        if not self.backend.upload_budget.try_take(len(data)):
            return self._buffer_when_taken(data)
        return self._buffer(data)

    async def _buffer_when_taken(self, data: bytes) -> None:
        """Wait for room, at most the budget's ``wait`` over the whole upload."""
        started = time.monotonic()
        try:
            await self.backend.upload_budget.take(len(data), self._may_wait)
        finally:
            self._may_wait -= time.monotonic() - started
        sending = self._buffer(data)
        if sending is not None:
            await sending

    def _buffer(self, data: bytes) -> Awaitable[None] | None:
        if self._ended:  # aborted while waiting for room
            self.backend.upload_budget.give_back(len(data))
            return None
        self._chunks.append(data)
        self._buffered += len(data)
        return self._send_parts() if self._buffered >= self._part_size else None

    @property
    def _part_size(self) -> int:
        return PART_SIZE << (len(self._parts) // PARTS_PER_SIZE)

    async def _send_parts(self, last: bool = False) -> None:
        """Send what is buffered as one part (parts may differ in size) once it has
        a part's worth, or, with ``last``, whatever is left."""
        if self._buffered >= self._part_size or (last and self._buffered):
            await self._wait_for_a_slot()  # reading from the client waits meanwhile
            await self._send_part(self._take_buffered())

    def _take_buffered(self) -> bytes:
        body = b"".join(self._chunks)
        self._chunks, self._buffered = [], 0
        return body

    async def _wait_for_a_slot(self) -> None:
        """Return once fewer than :data:`PARTS_IN_FLIGHT` parts are being sent; a
        failed part fails the upload now."""
        sending = [part for part in self._parts if not part.done()]
        if len(sending) >= PARTS_IN_FLIGHT:
            await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
        for part in self._parts:
            if part.done():
                part.result()

    async def _send_part(self, body: bytes) -> None:
        """Send ``body`` as the next part; its memory goes back to the budget once the
        part is sent, has failed or was cancelled."""
        budget = self.backend.upload_budget
        try:
            if self._upload_id is None:
                created = await self.backend.call_s3(
                    "create_multipart_upload",
                    Bucket=self.bucket,
                    Key=self.key,
                    ContentType=self.content_type,
                )
                self._upload_id = created["UploadId"]
        except BaseException:
            budget.give_back(len(body))
            raise
        if self._ended:  # the request ended while the upload was being created
            budget.give_back(len(body))
            self.abort()
            return
        number = len(self._parts) + 1
        params = {"Bucket": self.bucket, "Key": self.key, "UploadId": self._upload_id}
        part = asyncio.ensure_future(
            self.backend.call_s3("upload_part", PartNumber=number, Body=body, **params)
        )
        size = len(body)
        part.add_done_callback(lambda _: budget.give_back(size))
        self._parts.append(part)

    async def commit(self, conditions: WriteConditions, name: str) -> None:
        """Send what is left, then create the object if its conditions hold: S3
        itself refuses a create-only write over an existing object."""
        try:
            if self._upload_id is not None:
                await self._send_parts(last=True)
            sent = await asyncio.gather(*self._parts)
            backend, match = self.backend, {"IfNoneMatch": "*"} if conditions.create_only else {}
            async with backend.commit_lock(self.target):
                if conditions.any and not conditions.create_only:
                    conditions.verify(await backend.meta(self.target, name))
                if self._upload_id is None:
                    body = self._take_buffered()
                    try:
                        await backend.call_s3(
                            "put_object",
                            Bucket=self.bucket,
                            Key=self.key,
                            Body=body,
                            ContentType=self.content_type,
                            **match,
                        )
                    finally:
                        backend.upload_budget.give_back(len(body))
                else:
                    parts = [
                        {"PartNumber": number, "ETag": part["ETag"]}
                        for number, part in enumerate(sent, 1)
                    ]
                    await backend.call_s3(
                        "complete_multipart_upload",
                        Bucket=self.bucket,
                        Key=self.key,
                        UploadId=self._upload_id,
                        MultipartUpload={"Parts": parts},
                        **match,
                    )
                    self._upload_id = None  # completed: nothing left to abort
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop sending parts and abort the multipart upload, if there is one."""
        self._ended = True
        self.backend.upload_budget.give_back(self._buffered)
        self._chunks, self._buffered = [], 0
        for part in self._parts:
            if part.done() and not part.cancelled():
                part.exception()  # seen: a failed part was answered already
            part.cancel()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            _in_background(
                self.backend.call_s3(
                    "abort_multipart_upload", Bucket=self.bucket, Key=self.key, UploadId=upload_id
                ),
                f"abort the upload of {self.target!r}",
            )


_background: set[asyncio.Task[Any]] = set()


def _in_background(work: Awaitable[Any], what: str) -> None:
    """Run ``work`` without waiting for it; a failure is logged, not lost."""

    async def run() -> None:
        try:
            await work
        except Exception as exc:
            log.warning("Could not %s: %s", what, exc)

    task = asyncio.ensure_future(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
