"""Raw file URLs: ``files/<source>/<path>`` for GET, HEAD, PUT and DELETE."""

from __future__ import annotations

import asyncio
import email.utils
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.httputil import format_timestamp
from tornado.web import HTTPError, stream_request_body

from ..conditions import etag_matches
from ..errors import PreconditionFailed, SourceChanged
from ..metadata import FileMeta
from ..ranges import Unsatisfiable, parse_range, plain_span
from ..sources import SourcePath
from .uploading import UploadingHandler


def _not_modified_since(header: str, meta: FileMeta) -> bool:
    since = _http_date(header)
    modified = meta.last_modified
    return since is not None and modified is not None and int(modified.timestamp()) <= since


def _retrieved(sending: asyncio.Future) -> None:
    """Take a flush's outcome, so that a connection gone meanwhile is not reported as
    an exception nobody retrieved (the request's own error says what happened)."""
    if not sending.cancelled():
        sending.exception()


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
class FileHandler(UploadingHandler):
    """Read a file with ranges and validators; write it by streamed, atomic PUT."""

    #: A file's bytes are never a page of this server, errors included.
    content_security_policy = "sandbox; default-src 'none'"

    async def before_body(self) -> None:
        await super().before_body()
        if self.request.method == "PUT":
            self.request.connection.set_body_timeout(self.manager.upload_timeout)
            length = self.request.headers.get("Content-Length")  # tornado checked it
            size = int(length) if length is not None else None
            started = await self.start_upload(self.path_args[0], size)
            self.upload, self.conditions, self.client_name = started
            self.cut_off_when_idle()

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
        target = self.locate(path)
        span = self._plain_span(target) if include_body else None
        for attempt in (1, 2):
            info, reader = await target.backend.open_to_read(target.full, span)
            try:
                meta = FileMeta.from_info(info, target.name)
                await self._answer(target, meta, include_body, reader)
                return
            except SourceChanged:
                if attempt == 2 or self._headers_written:
                    raise
                self.clear_header("Content-Range")
                self.set_status(200)
            finally:
                if reader is not None:
                    await target.backend.close_reader(reader)

    async def _answer(
        self, target: SourcePath, meta: FileMeta, include_body: bool, reader: Any
    ) -> None:
        """Headers, validators and the body of a GET or HEAD of ``target``."""
        if meta.type == "other":
            raise PermissionError(f"{target.name!r} is not a regular file")
        if meta.type == "directory":
            raise IsADirectoryError(f"{target.name!r} is a directory: list it with api/ls")
        self._set_validators(meta)
        if self._precondition_failed(meta):
            raise PreconditionFailed("The file does not match If-Match or If-Unmodified-Since")
        if self._not_modified(meta):
            self.set_status(304)
            self.finish()
            return
        presigned = target.source.spec.presigned_reads
        if include_body and presigned is not None and meta.size >= presigned.min_size:
            self.set_header("Cache-Control", "no-store")  # the URL expires
            location = await target.backend.presign(target.full, presigned.expires, meta)
            self.redirect(location, status=307)
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
            # Pieces stay out of browser caches: Chromium, revalidating a stored piece,
            # at times hands a script a 206 with an empty body.
            self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Length", end - start)
        if include_body and start < end:
            await self._stream(target, start, end, reader, meta)
        self.finish(set_content_type=meta.content_type)  # with the last chunk

    async def _stream(
        self, target: SourcePath, start: int, end: int, reader: Any, meta: FileMeta
    ) -> None:
        """Send ``[start, end)``: each chunk but the last starts leaving as soon as it
        is read, while the next one is read (two chunks in memory at most); the last
        one leaves with :meth:`finish` (a small body in the same write as the headers)."""
        chunks = target.backend.read(
            target.full, start, end, self.manager.chunk_size, reader, meta.etag
        )
        left, sending = end - start, None
        try:
            async for chunk in chunks:
                if sending is not None:
                    await self.until_sent(sending)
                    sending = None
                self.write(chunk)
                left -= len(chunk)
                if left > 0:
                    sending = self.flush()
        finally:
            if sending is not None:  # a file that ended early, or a read that failed
                sending.add_done_callback(_retrieved)

    def _plain_span(self, target: SourcePath) -> tuple[int, int | None] | None:
        """The bytes this GET will send if the file allows it, when the store may be
        asked for them before its metadata (no ``If-Range``, no presigned redirect)."""
        if "If-Range" in self.request.headers or target.source.spec.presigned_reads:
            return None
        return plain_span(self.request.headers.get("Range"))

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

    @authorized
    async def put(self, path: str) -> None:
        upload, self.upload = self.upload, None
        if upload is None:
            raise HTTPError(400, "Upload was not started")
        self.received_bytes = upload.received
        await self.commit(upload, self.conditions, self.client_name)

    def _abort_upload(self) -> None:
        upload, self.upload = self.upload, None
        if upload is not None:
            upload.abort()

    def on_connection_close(self) -> None:
        self._abort_upload()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._abort_upload()
        super().on_finish()

    # -- delete -----------------------------------------------------------

    @authorized
    async def delete(self, path: str) -> None:
        target = self.locate(path, write=True)
        if target.is_root:
            raise HTTPError(400, "Cannot delete the source root")
        await target.backend.delete(target.full, self.bool_argument("recursive", False))
        self.set_status(204)
        self.finish()
