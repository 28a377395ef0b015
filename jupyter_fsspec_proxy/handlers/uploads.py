"""Upload sessions: ``api/uploads/<source>/<path>``, a file sent in pieces, in order.

POST opens a session, each PUT appends a piece (the last one commits), GET tells
where it stands and DELETE cancels it. Every request is authenticated, authorized
and checked against the source's rules again, and names the session's own path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError, stream_request_body

from ..errors import NoSuchUpload, OffsetMismatch, PayloadTooLarge
from ..upload_sessions import UploadSession
from .uploading import UploadingHandler

_OFFSET = re.compile(r"[0-9]{1,19}")


@stream_request_body
class UploadSessionHandler(UploadingHandler):
    """One upload session's requests; a PUT streams its piece into the session's upload."""

    session: UploadSession | None = None  # the session a PUT is sending a piece of
    _sending: asyncio.Future[None] | None = None  # the piece's bytes the backend is taking

    async def before_body(self) -> None:
        await super().before_body()
        if self.request.method == "PUT":
            self._begin_piece(self.path_args[0])

    def _find(self, path: str) -> UploadSession:
        """The caller's session named by ``?id=`` on ``path``, which the caller must
        still be allowed to write."""
        target = self.locate(path, write=True)
        session_id = self.get_query_argument("id", None)
        if not session_id:
            raise HTTPError(400, "Query argument 'id' (the upload's id) is required")
        uploads = self.manager.uploads
        session = uploads.find(session_id, self.caller, target.name)
        upload = session.upload
        if upload.target != target.full or upload.backend.fs is not target.backend.fs:
            uploads.abort(session)  # the source was reconfigured under it
            raise NoSuchUpload("The upload was cancelled: its source changed")
        return session

    def limit_body(self) -> None:
        if self.request.method == "PUT" and self.session is None:
            return  # a piece is measured once its session is known: _begin_piece
        super().limit_body()

    def _begin_piece(self, path: str) -> None:
        """Accept the body as the session's next piece, or refuse it before a byte."""
        offset = self.get_query_argument("offset", None)
        if offset is None or not _OFFSET.fullmatch(offset):
            raise HTTPError(400, "Query argument 'offset' must be a non-negative integer")
        self.last = self.bool_argument("last", False)
        session = self._find(path)
        uploads = self.manager.uploads
        uploads.begin_piece(session, int(offset))
        self.session, self.upload, self.piece_start = session, session.upload, session.offset
        try:
            self.limit_body()
            length = int(self.request.headers.get("Content-Length", 0))
            if session.offset + length > self.body_limit:
                raise PayloadTooLarge(
                    f"The upload would be larger than the limit of {self.body_limit} bytes"
                )
        except PayloadTooLarge:
            self.upload = None
            uploads.abort(session)  # it cannot complete: nothing of it is kept
            raise
        self.request.connection.set_body_timeout(self.manager.upload_timeout)
        self.cut_off_when_idle()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        session = self.session
        if session is not None and session.ended and self.upload is not None:
            self.upload = None  # cancelled by another request meanwhile
            self.send_error(404, exc_info=(NoSuchUpload, NoSuchUpload("Cancelled"), None))
            return None
        sending = super().data_received(chunk)
        if sending is None:
            return None
        self._sending = asyncio.ensure_future(sending)
        return self._sending

    def _abort_upload(self) -> None:
        self.upload = None
        if self.session is not None:
            self.manager.uploads.abort(self.session)

    def _end_piece(self) -> None:
        """The piece's request is over: the session takes the next one once the
        backend has taken this one's bytes."""
        session, self.session, self.upload = self.session, None, None
        if session is None:
            return
        uploads = self.manager.uploads
        if self._sending is not None and not self._sending.done():
            self._sending.add_done_callback(lambda _: uploads.end_piece(session))
        else:
            uploads.end_piece(session)

    def on_connection_close(self) -> None:
        self._end_piece()  # what arrived stays: the client resumes at the new offset
        super().on_connection_close()

    def on_finish(self) -> None:
        self._end_piece()
        super().on_finish()

    def error_body(self, exc: BaseException | None, status_code: int) -> dict[str, Any]:
        body: dict[str, Any] = super().error_body(exc, status_code)
        if isinstance(exc, OffsetMismatch):
            body["offset"] = exc.offset
        return body

    # -- verbs ------------------------------------------------------------

    @authorized
    async def post(self, path: str) -> None:
        """Open a session, once the caller may write, the target can be written and
        the conditions (If-Match, If-None-Match) hold; nothing exists before."""
        self.manager.uploads.check_room(self.caller)
        upload, conditions, name = await self.start_upload(path)
        session = self.manager.uploads.open(self.caller, name, upload, conditions)
        self.write_json(session.as_json(), status=201)

    @authorized
    async def put(self, path: str) -> None:
        session = self.session
        if session is None or session.ended:
            raise NoSuchUpload("The upload was cancelled")
        self.received_bytes = session.offset - self.piece_start
        if not self.last:
            self.write_json(session.as_json())
            return
        self.manager.uploads.finish(session)
        await self.commit(session.upload, session.conditions, session.path)

    @authorized
    async def get(self, path: str) -> None:
        self.write_json(self._find(path).as_json())

    @authorized
    async def delete(self, path: str) -> None:
        self.manager.uploads.abort(self._find(path))
        self.set_status(204)
        self.finish()
