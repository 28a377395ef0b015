"""The proxy's operations, written once as generators free of I/O.

Each operation yields :class:`Request` objects and receives :class:`Response`
objects; :meth:`Operations.drive` runs them over a blocking transport and
:meth:`Operations.adrive` over an awaitable one, so the synchronous and the
asynchronous filesystem share every line of protocol logic.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
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
        **kwargs: Any,
    ) -> None:
        # fsspec turns the environment's FSSPEC_PROXY_URL into url=..., read below
        if "url" in kwargs and kwargs.pop("url") != os.environ.get("FSSPEC_PROXY_URL"):
            raise TypeError(
                "The proxy's address is endpoint_url=, as in s3fs and gcsfs: "
                "fsspec passes storage_options={'endpoint_url': ..., 'token': ...}"
            )
        super().__init__(**kwargs)
        self.endpoint_url, self.token = find_proxy(endpoint_url, token)
        self.transport = transport or self.make_transport()
        self._xsrf: str | None = None

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
        write: bool | None = None,
        ok: tuple[int, ...] = OK,
    ) -> Op:
        """One request, with the session's credentials; raises for error answers."""
        write = method not in ("GET", "HEAD") if write is None else write
        auth: dict[str, str] = {}
        if self.token:
            auth = {"Authorization": f"token {self.token}"}
        elif write:  # a cookie session: writes carry its XSRF token
            if self._xsrf is None:
                answer = yield from self.call("GET", self.route("api/xsrf"), write=False)
                self._xsrf = json.loads(answer.body)["xsrf_token"]
            auth = {"X-XSRFToken": self._xsrf}
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
        return (yield from self.call_json("GET", self.route("api/info", path), path))

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
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> Op:
        path = strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (yield from self.info_op(path))["size"]
            start = None if start is None else max(size + start, 0) if start < 0 else start
            end = None if end is None else max(size + end, 0) if end < 0 else end
        start = start or 0
        if end is not None and end <= start:
            return b""
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        url = self.route("files", path)
        response = yield from self.call("GET", url, path, headers=headers, ok=(200, 206, 416))
        if response.status == 416:
            return b""
        if response.status == 200 and headers:  # a server that ignored the range
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
        response = yield from self.call("POST", url, body=body, headers=headers, write=True)
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
        create: bool = False,
    ) -> Op:
        """One streamed PUT of an open local file, reporting progress as it is read."""
        size = os.fstat(source.fileno()).st_size
        callback.set_size(size)
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        body = ProgressReader(source, callback)
        headers.update(_create_only(create))
        yield from self.call("PUT", self.route("files", path), path, body=body, headers=headers)

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
            for offset in range(0, info["size"], self.transfer_block):
                end = min(offset + self.transfer_block, info["size"])
                block = yield from self.cat_file_op(rpath, offset, end)
                out.write(block)
                callback.relative_update(len(block))

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
            for offset in range(0, size, self.transfer_block):
                end = min(offset + self.transfer_block, size)
                spool.write((yield from self.cat_file_op(path1, offset, end)))
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
