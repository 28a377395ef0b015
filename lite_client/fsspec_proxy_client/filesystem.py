"""``ProxyFileSystem`` (blocking) and ``AsyncProxyFileSystem`` (``asynchronous=True``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fsspec.asyn import AsyncFileSystem
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from .operations import Operations, strip_protocol, upload_body
from .transport import default_async_transport, default_transport

# Public fsspec methods, each run by one operation of the same name + "_op".
METHODS = (
    "ls", "info", "exists", "cat_file", "cat_ranges", "pipe_file", "put_file", "get_file",
    "mkdir", "makedirs", "rm", "rm_file", "cp_file", "mv", "touch", "sign",
)  # fmt: skip


def _blocking(name: str) -> Callable[..., Any]:
    def method(self: ProxyFileSystem, *args: Any, **kwargs: Any) -> Any:
        return self.drive(getattr(self, name + "_op")(*args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(Operations, name + "_op").__doc__
    return method


def _awaitable(name: str) -> Callable[..., Any]:
    async def method(self: AsyncProxyFileSystem, *args: Any, **kwargs: Any) -> Any:
        return await self.adrive(getattr(self, name + "_op")(*args, **kwargs))

    method.__name__ = method.__qualname__ = "_" + name
    method.__doc__ = getattr(Operations, name + "_op").__doc__
    return method


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


class ProxyFile(AbstractBufferedFile):
    """Reads fetch ranges on demand through fsspec's block caches; writes spool
    to a temporary file (memory up to one block, then disk) and are uploaded
    in one streamed request on close, so the target appears whole or not at all."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start, end)

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.blocksize)  # noqa: SIM115

    def _upload_chunk(self, final: bool = False) -> bool:
        self._spool.write(self.buffer.getvalue())
        if final:
            upload = upload_body(self._spool)
            self.fs.drive(
                self.fs.upload_op(strip_protocol(self.path), upload, create="x" in self.mode)
            )
            self._spool.close()
        return True
