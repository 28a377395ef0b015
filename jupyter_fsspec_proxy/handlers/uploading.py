"""What ``PUT files/`` and upload sessions share: the checks before an upload starts,
its body streamed into the backend's :class:`Upload`, and the atomic commit."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable
from typing import Any

from tornado.ioloop import IOLoop
from tornado.web import HTTPError, stream_request_body

from ..backends import Upload
from ..conditions import WriteConditions
from .base import ProxyHandler, http_status


@stream_request_body
class UploadingHandler(ProxyHandler):
    """Streams request bodies into ``self.upload``: bounded by ``max_upload_size`` in
    total, and read no faster than the backend takes them."""

    upload: Upload | None = None
    _idle_timer: Any = None
    _idle_since = 0.0
    _waiting = False  # for the backend (or for memory) to take what came before

    @property
    def max_body(self) -> int:
        return self.manager.max_upload_size

    async def start_upload(
        self, path: str, size: int | None = None
    ) -> tuple[Upload, WriteConditions, str]:
        """Check everything that can be checked before accepting a single byte (the
        caller is authenticated and may write: ``prepare``), then the target; the
        upload (of ``size`` bytes, when known), its conditions and the name clients
        know its target by."""
        target = self.locate(path, write=True)
        if target.is_root:
            raise HTTPError(400, "Cannot write to the source root")
        headers = self.request.headers
        conditions = WriteConditions(headers.get("If-Match"), headers.get("If-None-Match"))
        if conditions.any:  # fail early; checked again at commit
            conditions.verify(await target.backend.meta(target.full, target.name))
        upload = target.backend.start_upload(target.full, conditions, size)
        return upload, conditions, target.name

    def cut_off_when_idle(self, after: float | None = None) -> None:
        """Answer 408 (and keep nothing) once the client has sent nothing of the body
        into ``self.upload`` for ``upload_idle_timeout`` seconds; time the server
        spends waiting does not count."""
        idle = self.manager.upload_idle_timeout
        if after is None:
            self._idle_since = time.monotonic()

        def check() -> None:
            if self.upload is None or self._finished:
                return
            quiet = 0.0 if self._waiting else time.monotonic() - self._idle_since
            if quiet < idle:
                self.cut_off_when_idle(idle - quiet)
                return
            self._abort_upload()
            message = "The upload sent nothing for %d seconds: it was cut off, nothing kept"
            error = HTTPError(408, message, idle)
            self.send_error(408, exc_info=(HTTPError, error, None))

        self._idle_timer = IOLoop.current().call_later(idle if after is None else after, check)

    def _stop_idle_timer(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            IOLoop.current().remove_timeout(timer)

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

    def _abort_upload(self) -> None:
        """Discard what the upload received (it failed, or went over the limit)."""
        raise NotImplementedError

    def on_connection_close(self) -> None:
        self._stop_idle_timer()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._stop_idle_timer()
        super().on_finish()

    async def commit(self, upload: Upload, conditions: WriteConditions, name: str) -> None:
        """Put a completely received upload in place if its conditions still hold;
        answer 201 with the file's metadata and ETag."""
        await upload.commit(conditions, name)
        meta = await upload.backend.meta(upload.target, name)
        if meta is None:  # deleted by another request between the commit and now
            raise HTTPError(409, "The upload was committed, then deleted by another request")
        self.set_header("ETag", meta.etag)
        self.write_json(meta.as_json(), status=201)
