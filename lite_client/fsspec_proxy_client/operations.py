"""The proxy's operations, written once as generators that do no network I/O.

Each operation yields :class:`Request` objects and receives :class:`Response`
objects; :meth:`Operations.drive` runs them over a blocking transport and
:meth:`Operations.adrive` over an awaitable one, so the synchronous and the
asynchronous filesystem share every line of protocol logic. The operations that
move a file between the proxy and this machine (``put_file``, ``get_file``, and
copies between sources, which spool) read and write local files themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Generator
from typing import IO, Any
from urllib.parse import quote, urlencode, urljoin

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from .discovery import find_proxy
from .errors import ProxyError, error_for
from .frames import parse_frames
from .messages import Body, ProgressReader, Request, Response

MiB = 1 << 20
OK = (200, 201, 204, 206)
#: Files whose ``info`` is kept (see ``info_expiry``), the most recently told.
KEPT_INFOS = 256
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

Op = Generator[Request, Response, Any]


def strip_protocol(path: str) -> str:
    return path.removeprefix("proxy://").strip("/")


class Operations:
    """Protocol logic shared by both filesystems, mixed in before fsspec's base class."""

    protocol = "proxy"
    root_marker = ""
    transfer_block = 8 * MiB

    @staticmethod
    def make_transport() -> Any:
        raise NotImplementedError

    def __init__(
        self,
        endpoint_url: str | None = None,
        token: str | None = None,
        transport: Any = None,
        url: str | None = None,
        config: Any = None,
        info_expiry: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """``url`` is the older name of ``endpoint_url`` (fsspec makes it of
        ``FSSPEC_PROXY_URL``); ``config`` is ignored: fsspec makes it of the server's
        ``FSSPEC_PROXY_CONFIG``, which a kernel may inherit. A file's ``info`` is
        answered again without asking the server for ``info_expiry`` seconds after
        the server last confirmed it (an ``info``, or a read of a file object, which
        is pinned to that version), until this filesystem writes anything: pyarrow
        asks three times and opens twice to read one Parquet file. 0 asks every time."""
        super().__init__(**kwargs)
        self.endpoint_url, self.token = find_proxy(endpoint_url or url, token)
        self.transport = transport or self.make_transport()
        self.info_expiry = info_expiry
        self._xsrf: str | None = None
        self._infos: dict[str, tuple[float, dict[str, Any]]] = {}  # path: (confirmed, info)

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> str | list[str]:
        if isinstance(path, list):  # as fsspec's own: bulk methods pass lists
            return [strip_protocol(one) for one in path]
        return strip_protocol(path)

    # -- drivers --------------------------------------------------------------

    def drive(self, op: Op) -> Any:
        try:
            request = next(op)
            while True:
                request = op.send(self.transport.request(*_args(request)))
        except StopIteration as done:
            return done.value

    async def adrive(self, op: Op) -> Any:
        try:
            request = next(op)
            while True:
                request = op.send(await self.transport.request(*_args(request)))
        except StopIteration as done:
            return done.value

    # -- requests -------------------------------------------------------------

    def route(self, route: str, path: str = "", **query: Any) -> str:
        url = self.endpoint_url + route + ("/" + quote(path) if path else "")
        params = {k: str(v).lower() for k, v in query.items() if v is not None}
        return url + ("?" + urlencode(params) if params else "")

    def call(
        self,
        method: str,
        url: str,
        path: str = "",
        body: Body = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = OK,
        with_xsrf: bool = True,
    ) -> Op:
        """One request, with the session's credentials; raises for error answers. A
        cookie session sends its XSRF token with every request (JupyterHub asks for
        it on reads too), fetched once from ``api/xsrf``."""
        auth: dict[str, str] = {}
        if self.token:
            auth = {"Authorization": f"token {self.token}"}
        elif with_xsrf:
            if self._xsrf is None:
                answer = yield from self.call("GET", self.route("api/xsrf"), with_xsrf=False)
                self._xsrf = json.loads(answer.body)["xsrf_token"]
            auth = {"X-XSRFToken": self._xsrf}
        if method != "GET":  # a write, or a request that may read a file's new version
            self._infos.clear()
        response = yield Request(method, url, {**auth, **(headers or {})}, body)
        if response.status not in ok:
            raise error_for(response.status, response.body, path)
        return response

    def call_json(self, method: str, url: str, path: str = "", body: Any = None) -> Op:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        response = yield from self.call(method, url, path, data, headers)
        return json.loads(response.body)

    # -- operations -----------------------------------------------------------

    def sources_op(self) -> Op:
        return (yield from self.call_json("GET", self.route("api/sources")))

    def ls_op(self, path: str, detail: bool = True, **kwargs: Any) -> Op:
        path = strip_protocol(path)
        if not path:
            sources = yield from self.sources_op()
            entries = [{**s, "type": "directory", "size": 0} for s in sources]
            return entries if detail else [entry["name"] for entry in entries]
        return (yield from self.call_json("GET", self.route("api/ls", path, detail=detail), path))

    def info_op(self, path: str, **kwargs: Any) -> Op:
        path = strip_protocol(path)
        if not path:
            return {"name": "", "type": "directory", "size": 0}
        known = self.known_info(path)
        if known is not None:
            return known
        info = yield from self.call_json("GET", self.route("api/info", path), path)
        if info.get("type") == "file" and info.get("etag") and self.info_expiry > 0:
            self._infos.pop(path, None)
            self._infos[path] = (time.monotonic(), info)
            if len(self._infos) > KEPT_INFOS:
                del self._infos[next(iter(self._infos))]
        return info

    def known_info(self, path: str) -> dict[str, Any] | None:
        """File ``path``'s info, if the server confirmed it less than ``info_expiry``
        seconds ago; else None."""
        confirmed, info = self._infos.get(strip_protocol(path), (0.0, None))
        return info if time.monotonic() - confirmed < self.info_expiry else None

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget what is known of files (all, or ``path``): the next ``info`` asks."""
        if path is None:
            self._infos.clear()
        else:
            self._infos.pop(strip_protocol(path), None)
        super().invalidate_cache(path)  # type: ignore[misc]

    def confirmed(self, path: str, etag: str) -> None:
        """The server has just sent bytes of ``path``'s version ``etag``: its info holds."""
        path = strip_protocol(path)
        if path in self._infos and self._infos[path][1].get("etag") == etag:
            self._infos[path] = (time.monotonic(), self._infos[path][1])

    def exists_op(self, path: str, **kwargs: Any) -> Op:
        path = strip_protocol(path)
        if not path:
            return True
        try:
            answer = yield from self.call_json("GET", self.route("api/exists", path), path)
        except (FileNotFoundError, ValueError):
            return False
        return answer["exists"]

    def cat_file_op(
        self,
        path: str,
        start: int | None = None,
        end: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Op:
        """``headers``: conditions of the read (``If-Match``)."""
        path = strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (yield from self.info_op(path))["size"]
            start = None if start is None else max(size + start, 0) if start < 0 else start
            end = None if end is None else max(size + end, 0) if end < 0 else end
        start = start or 0
        if end is not None and end <= start:
            return b""
        headers = dict(headers or {})
        ranged = bool(start or end is not None)
        if ranged:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        url = self.route("files", path)
        response = yield from self.call("GET", url, path, headers=headers, ok=(200, 206, 416))
        if response.status == 416:
            return b""
        if response.status == 200 and ranged:  # a server that ignored the range
            return response.body[start:end]
        if response.status == 206:
            _check_content_range(response, start, end, path)
        return response.body

    def cat_ranges_op(
        self,
        paths: list[str],
        starts: Any,
        ends: Any,
        max_gap: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> Op:
        """All ranges in one round trip through ``api/ranges``."""
        paths = [strip_protocol(path) for path in paths]
        count = len(paths)
        starts = starts if isinstance(starts, list) else [starts] * count
        ends = ends if isinstance(ends, list) else [ends] * count
        if not len(starts) == len(ends) == count:
            raise ValueError("paths, starts and ends must have the same length")
        items = [
            {"path": p, "start": s, "end": e} for p, s, e in zip(paths, starts, ends, strict=True)
        ]
        body = json.dumps({"ranges": items}).encode()
        headers = {"Content-Type": "application/json"}
        url = self.route("api/ranges")
        response = yield from self.call("POST", url, body=body, headers=headers)
        results = parse_frames(response.body, count, paths)
        if on_error == "raise":
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def pipe_file_op(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> Op:
        """Write ``value``; ``mode="create"`` raises FileExistsError if the file exists
        (the server decides atomically)."""
        path = strip_protocol(path)
        headers = _create_only(mode == "create")
        yield from self.call("PUT", self.route("files", path), path, bytes(value), headers)

    def touch_op(self, path: str, truncate: bool = True, **kwargs: Any) -> Op:
        """Create an empty file, or with ``truncate=False`` only if there is none."""
        with contextlib.suppress(FileExistsError):
            yield from self.pipe_file_op(path, b"", mode="overwrite" if truncate else "create")

    def upload_op(
        self,
        path: str,
        source: IO[bytes],
        callback: Callback = DEFAULT_CALLBACK,
        headers: dict[str, str] | None = None,
    ) -> Op:
        """One streamed PUT of an open local file, reporting progress as it is read;
        ``headers``: its conditions (``If-Match``, ``If-None-Match``)."""
        size = os.fstat(source.fileno()).st_size
        callback.set_size(size)
        sent = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        body = ProgressReader(source, callback)
        sent.update(headers or {})
        yield from self.call("PUT", self.route("files", path), path, body=body, headers=sent)

    def spool_existing_op(self, path: str, spool: IO[bytes]) -> Op:
        """Copy the bytes of ``path`` into ``spool``, in ``transfer_block`` ranges, and
        return the condition that a write of the same version needs: ``If-Match`` on
        its ETag, or ``If-None-Match: *`` if there is no such file."""
        try:
            info = yield from self.info_op(path)
        except FileNotFoundError:
            return {"If-None-Match": "*"}
        if info["type"] == "directory":
            raise IsADirectoryError(f"{path!r} is a directory")
        yield from self._copy_out_op(path, info["size"], spool)
        return {"If-Match": info["etag"]}

    def _copy_out_op(
        self, path: str, size: int, out: IO[bytes], callback: Callback = DEFAULT_CALLBACK
    ) -> Op:
        """Write the ``size`` bytes of ``path`` to ``out`` in ``transfer_block`` ranges,
        so that memory stays bounded."""
        for offset in range(0, size, self.transfer_block):
            end = min(offset + self.transfer_block, size)
            block = yield from self.cat_file_op(path, offset, end)
            out.write(block)
            callback.relative_update(len(block))

    def put_file_op(
        self, lpath: str, rpath: str, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> Op:
        """Upload a local file as one streamed request."""
        if os.path.isdir(lpath):
            yield from self.makedirs_op(rpath, exist_ok=True)
            return
        with open(lpath, "rb") as local:
            yield from self.upload_op(strip_protocol(rpath), local, callback)

    def get_file_op(
        self, rpath: str, lpath: str, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> Op:
        """Download in ``transfer_block`` ranges, so memory stays bounded."""
        info = yield from self.info_op(rpath)
        if info["type"] == "directory":
            os.makedirs(lpath, exist_ok=True)
            return
        callback.set_size(info["size"])
        parent = os.path.dirname(os.fspath(lpath))
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(lpath, "wb") as out:
            yield from self._copy_out_op(rpath, info["size"], out, callback)

    def sign_op(self, path: str, expiration: float | None = None, **kwargs: Any) -> Op:
        """A URL that reads the file without a token, for ``expiration`` seconds (None:
        the server's default); the server refuses it once the signer may not read."""
        path = strip_protocol(path)
        body = {} if expiration is None else {"expires": expiration}
        answer = yield from self.call_json("POST", self.route("api/sign", path), path, body)
        return urljoin(self.endpoint_url, answer["url"])

    def mkdir_op(self, path: str, create_parents: bool = True, **kwargs: Any) -> Op:
        yield from self._mkdir_request(strip_protocol(path), parents=create_parents)

    def makedirs_op(self, path: str, exist_ok: bool = False) -> Op:
        yield from self._mkdir_request(strip_protocol(path), parents=True, exist_ok=exist_ok)

    def _mkdir_request(self, path: str, **query: Any) -> Op:
        if path:  # a source root always exists
            yield from self.call("POST", self.route("api/mkdir", path, **query), path, b"")

    def rm_op(self, path: str | list[str], recursive: bool = False, **kwargs: Any) -> Op:
        for one in [path] if isinstance(path, str) else path:
            one = strip_protocol(one)
            yield from self.call("DELETE", self.route("files", one, recursive=recursive), one)

    def rm_file_op(self, path: str) -> Op:
        yield from self.rm_op(path)

    def cp_file_op(self, path1: str, path2: str, **kwargs: Any) -> Op:
        """Copy one file to exactly ``path2``; a directory (as fsspec's ``copy`` hands
        them over) becomes an empty directory there."""
        info = yield from self.info_op(path1)
        if info["type"] == "directory":
            yield from self.makedirs_op(path2, exist_ok=True)
            return
        yield from self._transfer_op("copy", path1, path2, False, info["size"])

    def mv_op(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> Op:
        yield from self._transfer_op("move", path1, path2, recursive)

    def _transfer_op(
        self, operation: str, path1: str, path2: str, recursive: bool, size: int | None = None
    ) -> Op:
        """On the server within a source; across sources, through this client."""
        path1, path2 = strip_protocol(path1), strip_protocol(path2)
        source1, _, _ = path1.partition("/")
        source2, _, rest2 = path2.partition("/")
        if source1 == source2:
            body = {"destination": rest2, "recursive": recursive}
            yield from self.call_json("POST", self.route(f"api/{operation}", path1), path1, body)
            return
        yield from self.copy_across_op(path1, path2, size)
        if operation == "move":
            yield from self.rm_op(path1, recursive=recursive)

    def copy_across_op(self, path1: str, path2: str, size: int | None = None) -> Op:
        """Copy a file between sources: ranged reads into a local spool (memory up
        to one block, then disk), then one streamed upload, so the target appears
        whole and memory stays bounded. ``size`` if the caller knows it already."""
        if size is None:
            size = (yield from self.info_op(path1))["size"]
        with tempfile.SpooledTemporaryFile(max_size=self.transfer_block) as spool:
            yield from self._copy_out_op(path1, size, spool)
            yield from self.upload_op(path2, upload_body(spool))


def upload_body(spool: IO[bytes]) -> IO[bytes]:
    """A spooled file, rewound and on disk so that its size is known."""
    spool.flush()
    spool.seek(0)
    spool.rollover()  # type: ignore[attr-defined]
    return spool


def _create_only(create: bool) -> dict[str, str]:
    return {"If-None-Match": "*"} if create else {}


def _check_content_range(response: Response, start: int, end: int | None, path: str) -> None:
    """Trust a 206 only with the ``Content-Range`` that was asked for and as many
    bytes as it announces (as fsspec's http.py does): never silently wrong bytes."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
    if match is not None:
        first, last = int(match[1]), int(match[2])
        total = None if match[3] == "*" else int(match[3])
        limits = [n for n in (end, total) if n is not None]
        fits = last == min(limits) - 1 if limits else last >= first
        if first == start and fits and len(response.body) == last - first + 1:
            return
    raise ProxyError(206, f"The server answered another range than asked for {path!r}")


def _args(request: Request) -> tuple:
    return request.method, request.url, request.headers, request.body
