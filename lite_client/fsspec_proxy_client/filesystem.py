"""``ProxyFileSystem``: the proxy's sources as one fsspec filesystem."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from typing import IO, Any
from urllib.parse import quote, urlencode

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from .discovery import find_proxy
from .errors import error_for
from .frames import parse_frames
from .transport import Body, Response, Transport, default_transport

MiB = 1 << 20


class ProxyFileSystem(AbstractFileSystem):
    """Paths are ``<source>/<path in the source>``; ``""`` lists the sources.

    ``url`` is the proxy (``.../fsspec-proxy/``) and ``token`` a Jupyter token;
    both default to ``FSSPEC_PROXY_URL``/``FSSPEC_PROXY_TOKEN``, and in a browser
    to the Jupyter session the code runs in, whose cookie then authenticates.
    """

    protocol = "proxy"
    root_marker = ""
    transfer_block = 8 * MiB

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        transport: Transport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url, self.token = find_proxy(url, token)
        self.transport = transport or default_transport()
        self._xsrf: str | None = None

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        path = path.removeprefix("proxy://")
        return path.strip("/")

    # -- requests -----------------------------------------------------------

    def _url(self, route: str, path: str = "", **query: Any) -> str:
        url = self.url + route + ("/" + quote(path) if path else "")
        params = {k: str(v).lower() for k, v in query.items() if v is not None}
        return url + ("?" + urlencode(params) if params else "")

    def _headers(self, write: bool) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"token {self.token}"}
        if not write:
            return {}
        if self._xsrf is None:  # a cookie session: writes need its XSRF token
            self._xsrf = self._call("GET", self._url("api/xsrf"), write=False).body
            self._xsrf = json.loads(self._xsrf)["xsrf_token"]
        return {"X-XSRFToken": self._xsrf}

    def _call(
        self,
        method: str,
        url: str,
        path: str = "",
        body: Body = None,
        headers: dict[str, str] | None = None,
        write: bool | None = None,
        ok: tuple[int, ...] = (200, 201, 204, 206),
    ) -> Response:
        write = method not in ("GET", "HEAD") if write is None else write
        response = self.transport.request(
            method, url, {**self._headers(write), **(headers or {})}, body
        )
        if response.status not in ok:
            raise error_for(response.status, response.body, path)
        return response

    def _json(self, method: str, url: str, path: str = "", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        return json.loads(self._call(method, url, path, data, headers).body)

    # -- metadata -------------------------------------------------------------

    def sources(self) -> list[dict[str, Any]]:
        """The proxy's sources: name, protocol, readonly, available, reason."""
        return self._json("GET", self._url("api/sources"))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
        path = self._strip_protocol(path)
        if not path:
            entries = [
                {"name": s["name"], "type": "directory", "size": 0, **s} for s in self.sources()
            ]
        else:
            entries = self._json("GET", self._url("api/ls", path, detail=detail), path)
            if not detail:
                return entries
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "type": "directory", "size": 0}
        return self._json("GET", self._url("api/info", path), path)

    def exists(self, path: str, **kwargs: Any) -> bool:
        path = self._strip_protocol(path)
        if not path:
            return True
        try:
            return self._json("GET", self._url("api/exists", path), path)["exists"]
        except (FileNotFoundError, ValueError):
            return False

    def ukey(self, path: str) -> str:
        return self.info(path)["etag"]

    def checksum(self, path: str) -> int:
        return int.from_bytes(self.ukey(path).encode()[-8:], "big")

    def modified(self, path: str) -> datetime:
        mtime = self.info(path).get("mtime")
        if mtime is None:
            raise NotImplementedError("The backend gives no modification time")
        return datetime.fromtimestamp(mtime, timezone.utc)

    # -- reading --------------------------------------------------------------

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.size(path)
            start = None if start is None else max(size + start, 0) if start < 0 else start
            end = None if end is None else max(size + end, 0) if end < 0 else end
        start = start or 0
        if end is not None and end <= start:
            return b""
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        response = self._call(
            "GET", self._url("files", path), path, headers=headers, ok=(200, 206, 416)
        )
        if response.status == 416:
            return b""
        if response.status == 200 and headers:
            return response.body[start:end]
        return response.body

    def cat_ranges(
        self,
        paths: list[str],
        starts: list[int | None] | int | None,
        ends: list[int | None] | int | None,
        max_gap: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list:
        """All ranges in one round trip through ``api/ranges``."""
        count = len(paths)
        starts = starts if isinstance(starts, list) else [starts] * count
        ends = ends if isinstance(ends, list) else [ends] * count
        if not len(starts) == len(ends) == count:
            raise ValueError("paths, starts and ends must have the same length")
        stripped = [self._strip_protocol(p) for p in paths]
        items = [
            {"path": p, "start": s, "end": e}
            for p, s, e in zip(stripped, starts, ends, strict=True)
        ]
        body = json.dumps({"ranges": items}).encode()
        headers = {"Content-Type": "application/json"}
        response = self._call(
            "POST", self._url("api/ranges"), body=body, headers=headers, write=True
        )
        results = parse_frames(response.body, count, stripped)
        if on_error == "raise":
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def get_file(
        self, rpath: str, lpath: str, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> None:
        """Download in ``transfer_block`` ranges, so memory stays bounded."""
        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        size = self.size(rpath)
        callback.set_size(size)
        with open(lpath, "wb") as out:
            for offset in range(0, size, self.transfer_block):
                block = self.cat_file(rpath, offset, min(offset + self.transfer_block, size))
                out.write(block)
                callback.relative_update(len(block))

    # -- writing --------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        self._call("PUT", self._url("files", path), path, body=bytes(value))

    def put_file(
        self, lpath: str, rpath: str, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> None:
        """Upload a local file as one streamed request."""
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        with open(lpath, "rb") as local:
            self._upload(self._strip_protocol(rpath), local, callback)

    def _upload(self, path: str, source: IO[bytes], callback: Callback = DEFAULT_CALLBACK) -> None:
        size = os.fstat(source.fileno()).st_size
        callback.set_size(size)
        body = _ProgressReader(source, callback)
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        self._call("PUT", self._url("files", path), path, body=body, headers=headers)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        self._call("POST", self._url("api/mkdir", path, parents=create_parents), path, b"")

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        if not path:
            return
        self._call("POST", self._url("api/mkdir", path, exist_ok=exist_ok), path, b"")

    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        self._call("DELETE", self._url("files", path), path)

    def rm(
        self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None
    ) -> None:
        for one in [path] if isinstance(path, str) else path:
            one = self._strip_protocol(one)
            self._call("DELETE", self._url("files", one, recursive=recursive), one)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self._transfer("copy", path1, path2)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        self._transfer("move", path1, path2, recursive)

    def _transfer(self, operation: str, path1: str, path2: str, recursive: bool = False) -> None:
        """Server-side within a source; across sources, streamed through the client."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        source1, _, rest1 = path1.partition("/")
        source2, _, rest2 = path2.partition("/")
        if source1 == source2:
            body = {"destination": rest2, "recursive": recursive}
            self._json("POST", self._url(f"api/{operation}", path1), path1, body)
            return
        with self.open(path1, "rb") as src, self.open(path2, "wb") as dst:
            shutil.copyfileobj(src, dst, self.transfer_block)
        if operation == "move":
            self.rm(path1, recursive=recursive)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict | None = None,
        **kwargs: Any,
    ) -> ProxyFile:
        return ProxyFile(
            self,
            path,
            mode,
            block_size or "default",
            autocommit,
            cache_options=cache_options,
            **kwargs,
        )


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
            self._spool.flush()
            self._spool.seek(0)
            self._spool.rollover()  # a real file, so its size is known
            self.fs._upload(self.fs._strip_protocol(self.path), self._spool)
            self._spool.close()
        return True


class _ProgressReader:
    """A file-like body that reports progress as it is read."""

    def __init__(self, source: IO[bytes], callback: Callback) -> None:
        self.source, self.callback = source, callback

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.callback.relative_update(len(data))
        return data
