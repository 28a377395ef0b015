"""``ProxyFileSystem`` (blocking) and ``AsyncProxyFileSystem`` (``asynchronous=True``)."""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fsspec.asyn import AsyncFileSystem
from fsspec.caching import ReadAheadCache, register_cache
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from .errors import FileChangedError
from .operations import Operations, strip_protocol, upload_body
from .transport import default_async_transport, default_transport

# Public fsspec methods, each run by one operation of the same name + "_op".
METHODS = (
    "ls", "info", "exists", "cat_file", "cat_ranges", "pipe_file", "put_file", "get_file",
    "mkdir", "makedirs", "rm", "rm_file", "cp_file", "mv", "touch", "sign",
)  # fmt: skip


def _blocking(name: str) -> Callable[..., Any]:
    """The method ``name`` that runs the operation ``<name>_op`` to its end, with the
    operation's signature and docstring (as fsspec's ``sync_wrapper`` keeps them)."""
    operation = getattr(Operations, name + "_op")

    @functools.wraps(operation)
    def method(self: ProxyFileSystem, *args: Any, **kwargs: Any) -> Any:
        return self.drive(operation(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__signature__ = _returning_a_result(operation)  # type: ignore[attr-defined]
    return method


def _awaitable(name: str) -> Callable[..., Any]:
    """The coroutine ``_<name>`` that runs the operation ``<name>_op``, likewise."""
    operation = getattr(Operations, name + "_op")

    @functools.wraps(operation)
    async def method(self: AsyncProxyFileSystem, *args: Any, **kwargs: Any) -> Any:
        return await self.adrive(operation(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = "_" + name
    method.__signature__ = _returning_a_result(operation)  # type: ignore[attr-defined]
    return method


def _returning_a_result(operation: Callable[..., Any]) -> inspect.Signature:
    """An operation's signature, without its return type: the method returns what the
    operation finally returns, not the operation."""
    return inspect.signature(operation).replace(return_annotation=inspect.Signature.empty)


class ProxyFileSystem(Operations, AbstractFileSystem):
    """The proxy's sources as one filesystem: paths are ``<source>/<path>``, and
    ``""`` lists the sources.

    ``endpoint_url`` is the proxy (``.../fsspec-proxy/``) and ``token`` a Jupyter token;
    both default to ``FSSPEC_PROXY_URL``/``FSSPEC_PROXY_TOKEN``, and in a browser
    to the Jupyter session the code runs in, whose cookie then authenticates.
    ``asynchronous=True`` gives an :class:`AsyncProxyFileSystem` instead.
    """

    make_transport = staticmethod(default_transport)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("asynchronous"):
            return AsyncProxyFileSystem(*args, **kwargs)
        return super().__new__(cls)

    def sources(self) -> list[dict[str, Any]]:
        """The proxy's sources: name, protocol, readonly, available, reason."""
        return self.drive(self.sources_op())

    def ukey(self, path: str) -> str:
        return self.info(path)["etag"]

    def checksum(self, path: str) -> int:
        return int.from_bytes(self.ukey(path).encode()[-8:], "big")

    def modified(self, path: str) -> datetime:
        mtime = self.info(path).get("mtime")
        if mtime is None:
            raise NotImplementedError("The backend gives no modification time")
        return datetime.fromtimestamp(mtime, timezone.utc)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict | None = None,
        **kwargs: Any,
    ) -> ProxyFile:
        if "x" in mode and self.exists(path):  # fail early; the upload is create-only too
            raise FileExistsError(f"{path!r} exists")
        size = block_size or "default"
        kwargs.setdefault("cache_type", SequentialReadAhead.name)
        if mode == "rb" and "size" not in kwargs:
            kwargs["details"] = self.known_info(path)
        return ProxyFile(self, path, mode, size, autocommit, cache_options=cache_options, **kwargs)


for _name in METHODS:
    setattr(ProxyFileSystem, _name, _blocking(_name))


class AsyncProxyFileSystem(Operations, AsyncFileSystem):
    """The same operations as coroutines (``await fs._ls(...)``), over ``fetch``
    in Pyodide: a page's main thread keeps running while requests are in flight."""

    make_transport = staticmethod(default_async_transport)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Always asynchronous: fsspec's blocking mode would start a thread (not in Pyodide).
        super().__init__(*args, **{**kwargs, "asynchronous": True})

    async def _sources(self) -> list[dict[str, Any]]:
        return await self.adrive(self.sources_op())

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        raise NotImplementedError(
            "The asynchronous filesystem has no file objects: await _cat_file/_pipe_file, "
            "or use the blocking ProxyFileSystem (asynchronous=False) for open()"
        )


for _name in METHODS:
    setattr(AsyncProxyFileSystem, "_" + _name, _awaitable(_name))


class SequentialReadAhead(ReadAheadCache):
    """fsspec's read-ahead, for a reader that goes on from where it stopped (one that
    reads a file line by line); any other read is fetched as asked. Columnar readers
    (pyarrow, zarr) jump from column chunk to column chunk, and a block read past
    each one would fetch bytes that nobody wants."""

    name = "proxy-readahead"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stopped = 0  # where the previous read ended

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = start or 0
        end = self.size if end is None else min(end, self.size)
        going_on, self._stopped = start == self._stopped, end
        if going_on or (self.start <= start and end <= self.end) or start >= end:
            return super()._fetch(start, end)
        self.miss_count += 1
        self.total_requested_bytes += end - start
        self.cache, self.start = self.fetcher(start, end), start
        self.end = start + len(self.cache)
        return self.cache


register_cache(SequentialReadAhead, clobber=True)


class ProxyFile(AbstractBufferedFile):
    """Reads fetch ranges on demand through fsspec's block caches; writes spool
    to a temporary file (memory up to one block, then disk) and are uploaded
    in one streamed request on close, so the target appears whole or not at all.

    Appending (``"ab"``) spools the file's bytes as they are when the first
    written bytes go out, and uploads the whole under ``If-Match`` on that version
    (``If-None-Match: *`` for a file that did not exist): a file that another
    writer changes in between is left as they wrote it, and the append fails."""

    def __init__(self, *args: Any, details: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if details is not None:  # what the file system was just told about this file
            self._details = details
            kwargs["size"] = details["size"]
        super().__init__(*args, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        """The bytes of the version that ``details`` describes (``If-Match`` on its
        ETag): a file replaced while it is read raises, never mixes two versions."""
        etag = self.details.get("etag")
        pinned = {"If-Match": etag} if etag else None
        path = strip_protocol(self.path)
        try:
            data = self.fs.drive(self.fs.cat_file_op(path, start, end, headers=pinned))
        except FileExistsError:  # the server's 412: not the version being read
            self.fs.invalidate_cache(path)
            raise FileChangedError(f"{path!r} changed while it was open for reading") from None
        if etag:
            self.fs.confirmed(path, etag)
        return data

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.blocksize)  # noqa: SIM115
        path = strip_protocol(self.path)
        if "a" in self.mode:
            self._condition = self.fs.drive(self.fs.spool_existing_op(path, self._spool))
        else:
            self._condition = {"If-None-Match": "*"} if "x" in self.mode else {}

    def _upload_chunk(self, final: bool = False) -> bool:
        self._spool.write(self.buffer.getvalue())
        if final:
            upload = upload_body(self._spool)
            path = strip_protocol(self.path)
            try:
                self.fs.drive(self.fs.upload_op(path, upload, headers=self._condition))
            except FileExistsError as exc:
                if "a" not in self.mode:
                    raise
                raise FileExistsError(f"{path!r} changed while it was appended to: {exc}") from None
            finally:
                self._spool.close()
        return True
