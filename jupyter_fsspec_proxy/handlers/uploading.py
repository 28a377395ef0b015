"""What ``PUT files/`` and upload sessions share: the checks before an upload starts,
its body streamed into the backend's :class:`Upload`, and the atomic commit."""

from __future__ import annotations

import sys
from collections.abc import Awaitable

from tornado.web import HTTPError, stream_request_body

from ..backend import Upload
from ..conditions import WriteConditions
from .base import ProxyHandler, http_status


@stream_request_body
class UploadingHandler(ProxyHandler):
    """Streams request bodies into ``self.upload``: bounded by ``max_upload_size`` in
    total, and read no faster than the backend takes them."""

    upload: Upload | None = None

    @property
    def max_body(self) -> int:
        return self.manager.settings.max_upload_size

    async def start_upload(self, path: str) -> tuple[Upload, WriteConditions, str]:
        """Check everything that can be checked before accepting a single byte (the
        caller is authenticated and may write: ``prepare``), then the target; the
        upload, its conditions and the name clients know its target by."""
        source, relpath, full = self.locate(path, write=True)
        if not relpath:
            raise HTTPError(400, "Cannot write to the source root")
        headers = self.request.headers
        conditions = WriteConditions(headers.get("If-Match"), headers.get("If-None-Match"))
        name = f"{source.name}/{relpath}"
        if conditions.any:  # fail early; checked again at commit
            conditions.verify(await source.backend.meta(full, name))
        return source.backend.start_upload(full), conditions, name

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        upload = self.upload
        if upload is None:
            return None
        if upload.received + len(chunk) > self.body_limit:
            self._abort_upload()
            self.refuse_body()
            return None
        sending = upload.write(chunk)
        return None if sending is None else self._wait_for(sending)

    async def _wait_for(self, sending: Awaitable[None]) -> None:
        """Read no more of the body until the backend took what came before; if it
        fails, answer now and read no more at all."""
        try:
            await sending
        except Exception as exc:
            self._abort_upload()
            if not self._finished:
                self.send_error(http_status(exc) or 500, exc_info=sys.exc_info())

    def _abort_upload(self) -> None:
        """Discard what the upload received (it failed, or went over the limit)."""
        raise NotImplementedError

    async def commit(self, upload: Upload, conditions: WriteConditions, name: str) -> None:
        """Put a completely received upload in place if its conditions still hold;
        answer 201 with the file's metadata and ETag."""
        await upload.commit(conditions, name)
        meta = await upload.backend.meta(upload.target, name)
        if meta is None:  # deleted by another request between the commit and now
            raise HTTPError(409, "The upload was committed, then deleted by another request")
        self.set_header("ETag", meta.etag)
        self.write_json(meta.as_json(), status=201)
