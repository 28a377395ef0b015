"""Raw file URLs: ``files/<source>/<path>`` for GET, HEAD, PUT and DELETE."""

from __future__ import annotations

import email.utils
import sys
import time
from collections.abc import Awaitable
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.httputil import format_timestamp
from tornado.ioloop import IOLoop
from tornado.web import HTTPError, stream_request_body

from ..backends import Upload
from ..conditions import WriteConditions, etag_matches
from ..errors import SourceChanged
from ..metadata import FileMeta
from ..ranges import Unsatisfiable, parse_range
from ..sources import Source
from .base import ProxyHandler, http_status


def _not_modified_since(header: str, meta: FileMeta) -> bool:
    since = _http_date(header)
    modified = meta.last_modified
    return since is not None and modified is not None and int(modified.timestamp()) <= since


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


class RangeNotSatisfiable(HTTPError):
    """416, remembering the size for the ``Content-Range`` of the error answer."""

    def __init__(self, size: int) -> None:
        super().__init__(416, "Range not satisfiable for a file of %d bytes", size)
        self.size = size


@stream_request_body
class FileHandler(ProxyHandler):
    """Read a file with ranges and validators; write it by streamed, atomic PUT."""

    upload: Upload | None = None
    _idle_timer: object | None = None
    #: A file's bytes are never a page of this server, errors included.
    content_security_policy = "sandbox; default-src 'none'"

    @property
    def max_body(self) -> int:
        return self.manager.settings.max_upload_size

    async def before_body(self) -> None:
        await super().before_body()
        if self.request.method == "PUT":
            await self._start_upload(self.path_args[0])

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RangeNotSatisfiable):
            self.set_header("Content-Range", f"bytes */{exc.size}")
        super().write_error(status_code, **kwargs)

    # -- reads ------------------------------------------------------------

    @authorized
    async def get(self, path: str) -> None:
        await self._send(path, include_body=True)

    @authorized
    async def head(self, path: str) -> None:
        await self._send(path, include_body=False)

    async def _send(self, path: str, include_body: bool) -> None:
        """Answer from fresh metadata; a file replaced between its metadata and its
        bytes (before any byte was sent) is answered again as it is now."""
        source, relpath, full = self.locate(path)
        for attempt in (1, 2):
            info, reader = await source.backend.open_to_read(full)
            try:
                meta = FileMeta.from_info(info, relpath)
                await self._answer(path, meta, include_body, source, full, reader)
                return
            except SourceChanged:
                if attempt == 2 or self._headers_written:
                    raise
                self.clear_header("Content-Range")
                self.set_status(200)
            finally:
                if reader is not None:
                    await source.backend.close_reader(reader)

    async def _answer(
        self, path: str, meta: FileMeta, include_body: bool, source: Source, full: str, reader: Any
    ) -> None:
        """Headers, validators and the body of a GET or HEAD of ``path``."""
        if meta.type == "other":
            raise HTTPError(403, "%r is not a regular file", path)
        if meta.type == "directory":
            raise HTTPError(400, "%r is a directory: list it with api/ls", path)
        self._set_validators(meta)
        if self._precondition_failed(meta):
            raise HTTPError(412, "Precondition failed")
        if self._not_modified(meta):
            self.set_status(304)
            self.finish()
            return
        presigned = source.spec.presigned_reads
        if include_body and presigned is not None and meta.size >= presigned.min_size:
            self.set_header("Cache-Control", "no-store")  # the URL expires
            self.redirect(await source.backend.presign(full, presigned.expires, meta), status=307)
            return
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Type", meta.content_type)
        try:
            span = parse_range(self._range_header(meta), meta.size)
        except Unsatisfiable:
            raise RangeNotSatisfiable(meta.size) from None
        start, end = (0, meta.size) if span is None else span
        if span is not None:
            self.set_status(206)
            self.set_header("Content-Range", span.content_range(meta.size))
        self.set_header("Content-Length", end - start)
        if include_body and start < end:
            chunks = source.backend.read(
                full, start, end, self.manager.settings.chunk_size, reader, meta.etag
            )
            async for chunk in chunks:
                if self._write_buffer:  # the previous chunk leaves before the next is kept
                    await self.send_now()
                self.write(chunk)
        self.finish(set_content_type=meta.content_type)  # with the last chunk

    def _set_validators(self, meta: FileMeta) -> None:
        self.set_header("ETag", meta.etag)
        self.set_header("Cache-Control", "no-cache")
        if meta.mtime is not None:
            self.set_header("Last-Modified", format_timestamp(meta.mtime))

    def _precondition_failed(self, meta: FileMeta) -> bool:
        headers = self.request.headers
        if "If-Match" in headers:
            return not etag_matches(headers["If-Match"], meta.etag)
        if "If-Unmodified-Since" in headers and meta.last_modified is not None:
            return not _not_modified_since(headers["If-Unmodified-Since"], meta)
        return False

    def _not_modified(self, meta: FileMeta) -> bool:
        headers = self.request.headers
        if "If-None-Match" in headers:
            return etag_matches(headers["If-None-Match"], meta.etag)
        return "If-Modified-Since" in headers and _not_modified_since(
            headers["If-Modified-Since"], meta
        )

    def _range_header(self, meta: FileMeta) -> str | None:
        """The Range header, unless an If-Range validator says the file changed."""
        if_range = self.request.headers.get("If-Range")
        if if_range is None:
            return self.request.headers.get("Range")
        if if_range.startswith(('"', "W/")):
            fresh = if_range == meta.etag
        else:
            date = _http_date(if_range)
            fresh = bool(meta.last_modified) and date == int(meta.last_modified.timestamp())
        return self.request.headers.get("Range") if fresh else None

    # -- writes -----------------------------------------------------------

    async def _start_upload(self, path: str) -> None:
        """Check everything that can be checked before accepting a single byte: the
        caller is authenticated and may write (``prepare``), then the target."""
        source, relpath, full = self.locate(path, write=True)
        if not relpath:
            raise HTTPError(400, "Cannot write to the source root")
        headers = self.request.headers
        self.conditions = WriteConditions(headers.get("If-Match"), headers.get("If-None-Match"))
        self.client_name = f"{source.name}/{relpath}"
        if self.conditions.any:  # fail early; checked again at commit
            self.conditions.verify(await source.backend.meta(full, self.client_name))
        self.request.connection.set_body_timeout(self.manager.settings.upload_timeout)
        self.upload = source.backend.start_upload(full, self.conditions)
        self._idle_since = time.monotonic()
        self._cut_off_when_idle(self.manager.settings.upload_idle_timeout)

    def _cut_off_when_idle(self, after: float) -> None:
        """Answer 408 (and keep nothing) once the client has sent nothing for
        ``upload_idle_timeout`` seconds; time the server spends waiting does not count."""
        idle = self.manager.settings.upload_idle_timeout

        def check() -> None:
            if self.upload is None or self._finished:
                return
            quiet = 0.0 if self._waiting else time.monotonic() - self._idle_since
            if quiet < idle:
                self._cut_off_when_idle(idle - quiet)
                return
            self._abort_upload()
            message = "The upload sent nothing for %d seconds: it was cut off, nothing kept"
            error = HTTPError(408, message, idle)
            self.send_error(408, exc_info=(HTTPError, error, None))

        self._idle_timer = IOLoop.current().call_later(after, check)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        upload = self.upload
        if upload is None or self._draining:
            return None
        self._idle_since = time.monotonic()
        if upload.received + len(chunk) > self.body_limit:
            self._abort_upload()
            self.refuse_body()
            return None
        sending = upload.write(chunk)
        return None if sending is None else self._wait_for(sending)

    _waiting = False  # for the backend (or for memory) to take what came before

    async def _wait_for(self, sending: Awaitable[None]) -> None:
        """Read no more of the body until the backend took what came before; if it
        fails, answer now and read no more at all."""
        self._waiting = True
        try:
            await sending
        except Exception as exc:
            self._abort_upload()
            if not self._finished:
                self.send_error(http_status(exc) or 500, exc_info=sys.exc_info())
        finally:
            self._waiting = False
            self._idle_since = time.monotonic()

    @authorized
    async def put(self, path: str) -> None:
        upload, self.upload = self.upload, None
        if upload is None:
            raise HTTPError(400, "Upload was not started")
        self.received_bytes = upload.received
        await upload.commit(self.conditions, self.client_name)
        meta = await upload.backend.meta(upload.target, self.client_name)
        if meta is None:  # deleted by another request between the commit and now
            raise HTTPError(409, "The upload was committed, then deleted by another request")
        self.set_header("ETag", meta.etag)
        self.write_json(meta.as_json(), status=201)

    def _abort_upload(self) -> None:
        upload, self.upload = self.upload, None
        if upload is not None:
            upload.abort()

    def on_connection_close(self) -> None:
        self._abort_upload()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._abort_upload()
        if self._idle_timer is not None:
            IOLoop.current().remove_timeout(self._idle_timer)
        super().on_finish()

    # -- delete -----------------------------------------------------------

    @authorized
    async def delete(self, path: str) -> None:
        source, relpath, full = self.locate(path, write=True)
        if not relpath:
            raise HTTPError(400, "Cannot delete the source root")
        await source.backend.delete(full, self.bool_argument("recursive", False))
        self.set_status(204)
        self.finish()
