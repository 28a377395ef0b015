"""Google Cloud Storage through gcsfs: uploads as resumable uploads, create-only
writes refused by GCS itself (``ifGenerationMatch=0``). gcsfs is imported only by a
GCS source (it is optional)."""

from __future__ import annotations

import asyncio
import functools
import logging
import mimetypes
from typing import Any

from ..conditions import WriteConditions
from ..errors import PreconditionFailed
from ..metadata import FileMeta
from .base import Backend, Upload, close_session, shown_as
from .parts import PartedUpload

log = logging.getLogger(__name__)


class GCSBackend(Backend):
    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        return GCSUpload(self, target, conditions)

    async def presign(self, path: str, expires: int, meta: FileMeta) -> str:
        """A V4 signed URL; signing needs credentials with a private key (a service
        account), not a bare token."""
        content_type, disposition = shown_as(meta)
        sign = functools.partial(self.fs.sign, path, expires, version="v4",
                                 response_type=content_type,
                                 response_disposition=disposition)  # fmt: skip
        return await self._guard(asyncio.to_thread(sign), path=path)

    async def close(self) -> None:
        await close_session(self.fs)


class GCSUpload(PartedUpload):
    """A resumable upload: 8 MiB chunks in order (one at a time), the object made by the
    last one, with the total size; a create-only one is begun with
    ``ifGenerationMatch=0``, so GCS refuses to finish it over an existing object."""

    backend: GCSBackend
    parts_in_flight = 1

    def __init__(self, backend: GCSBackend, target: str, conditions: WriteConditions) -> None:
        super().__init__(backend, target, conditions)
        self.bucket, self.key, _ = backend.fs.split_path(target)
        self.content_type = mimetypes.guess_type(target)[0] or "application/octet-stream"
        self._mode = "create" if self.create_only else "overwrite"
        self._location = ""
        self._offset = 0  # bytes GCS has

    async def _begin(self) -> None:
        from gcsfs.core import initiate_upload

        self._location = await self.backend._guard(
            initiate_upload(
                self.backend.fs, self.bucket, self.key, self.content_type, mode=self._mode
            )  # fmt: skip
        )

    async def _send_part(self, number: int, body: bytes) -> None:
        await self._post(body, final=False)

    async def _post(self, body: bytes, final: bool) -> None:
        """Send ``body`` from the current offset; GCS may keep less of a chunk than it
        was sent (its ``Range``), and gets the rest again."""
        while True:
            total = str(self._offset + len(body)) if final else "*"
            span = f"{self._offset}-{self._offset + len(body) - 1}" if body else "*"
            headers = {"Content-Range": f"bytes {span}/{total}",
                       "Content-Type": self.content_type}  # fmt: skip
            answer, _ = await self.backend._guard(
                _refused_if_exists(
                    self.backend.fs._call(
                        "POST", self._location, headers=headers, data=body or None
                    )  # fmt: skip
                )
            )
            kept = len(body)
            if "Range" in answer:  # the bytes GCS has so far: 0-N
                kept = int(answer["Range"].rpartition("-")[2]) + 1 - self._offset
            self._offset += kept
            body = body[kept:]
            if not body:
                return

    async def _complete(self, sent: list[Any], rest: bytes, version: Any) -> None:
        await self._post(rest, final=True)

    async def _put_whole(self, body: bytes, version: Any) -> None:
        from gcsfs.core import simple_upload

        await self.backend._guard(
            _refused_if_exists(
                simple_upload(
                    self.backend.fs,
                    self.bucket,
                    self.key,
                    body,
                    content_type=self.content_type,
                    mode=self._mode,
                )  # fmt: skip
            )
        )

    async def _cancel(self) -> None:
        """GCS answers a cancelled upload with 499: that is its success."""
        try:
            await self.backend.fs._call("DELETE", self._location)
        except Exception as exc:
            log.debug("Cancelled the upload of %r: %s", self.target, type(exc).__name__)


async def _refused_if_exists(call: Any) -> Any:
    """GCS's 412 to ``ifGenerationMatch=0`` (gcsfs raises it as FileExistsError or an
    HttpError with code 412) is a failed precondition."""
    try:
        return await call
    except Exception as exc:
        if isinstance(exc, FileExistsError) or getattr(exc, "code", None) == 412:
            raise PreconditionFailed("The file already exists") from None
        raise
