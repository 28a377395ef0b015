"""S3 through s3fs: reads as one streamed ranged GET, uploads as multipart uploads,
create-only writes and version-pinned reads decided by S3 itself."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..conditions import WriteConditions
from ..errors import PreconditionFailed, SourceChanged
from ..metadata import FileMeta
from .base import Backend, Upload, shown_as
from .parts import PartedUpload


@dataclass
class OpenBody:
    """The streamed body of a GET that ``open_to_read`` sent, from ``start``."""

    body: Any
    start: int


class S3Backend(Backend):
    async def open_to_read(
        self, path: str, span: tuple[int, int | None] | None = None
    ) -> tuple[dict[str, Any], Any]:
        """With ``span``, one GET of those bytes, whose answer describes the object
        (size, ETag, modification time) as a HEAD would: the metadata and the bytes
        are of one version, and a read costs S3 one request instead of two. A key
        that is no object (a folder, a missing file) or a span past the end is
        described by ``info`` instead, which says what it is."""
        bucket, key, version = self.fs.split_path(path)
        if span is None or not key:
            return await super().open_to_read(path)
        params = self._get_params(bucket, key, version, *span)
        try:
            answer = await asyncio.wait_for(self.fs._call_s3("get_object", **params), self.timeout)
        except Exception as exc:
            if isinstance(exc, FileNotFoundError) or _s3_status(exc) == 416:
                return await super().open_to_read(path)
            raise self.translate(exc, path) from None
        info = {
            "name": path,
            "type": "file",
            "size": _object_size(answer),
            "ETag": answer.get("ETag", ""),
            "LastModified": answer.get("LastModified"),
        }
        return info, OpenBody(answer["Body"], span[0])

    async def read(
        self,
        path: str,
        start: int,
        end: int | None,
        chunk: int,
        reader: Any = None,
        etag: str | None = None,
    ) -> AsyncIterator[bytes]:
        """One ranged GET, unless ``open_to_read`` sent it (``reader``), of the version
        ``etag`` names when given: S3 refuses it if the object changed since."""
        if end is not None and end <= start:
            return
        if isinstance(reader, OpenBody) and reader.start == start:
            body = reader.body  # closed by close_reader
        else:
            bucket, key, version = self.fs.split_path(path)
            params = self._get_params(bucket, key, version, start, end)
            if etag:
                params["IfMatch"] = etag
            body = (await self.call_s3("get_object", **params))["Body"]
        try:
            while data := await self._guard(body.read(chunk)):
                yield data
        finally:
            if body is not getattr(reader, "body", None):
                body.close()

    @staticmethod
    def _get_params(
        bucket: str, key: str, version: str | None, start: int, end: int | None
    ) -> dict[str, Any]:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        if start or end is not None:  # an empty object has no satisfiable range
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        return params

    async def close_reader(self, handle: Any) -> None:
        if isinstance(handle, OpenBody):
            handle.body.close()

    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        return S3Upload(self, target, conditions)

    async def call_s3(self, method: str, **params: Any) -> Any:
        """One S3 API call (botocore names it), through :meth:`_guard` like every other."""
        path = f"{params['Bucket']}/{params.get('Key', '')}".rstrip("/")
        return await self._guard(self._s3(method, params), path=path)

    async def _s3(self, method: str, params: dict[str, Any]) -> Any:
        """S3's 412: to a create-only write (s3fs makes it FileExistsError), the file
        exists; to a read of one version (``IfMatch``), the file changed."""
        try:
            return await self.fs._call_s3(method, **params)
        except Exception as exc:
            if _s3_status(exc) == 412 and "IfNoneMatch" in params:
                raise PreconditionFailed("The file already exists") from None
            if _s3_status(exc) == 412 and "IfMatch" in params:
                raise SourceChanged() from None
            raise

    async def presign(self, path: str, expires: int, meta: FileMeta) -> str:
        content_type, disposition = shown_as(meta)
        shown = {"ResponseContentType": content_type}
        if disposition:
            shown["ResponseContentDisposition"] = disposition
        return await self._guard(self.fs._url(path, expires, **shown), path=path)

    async def close(self) -> None:
        client = getattr(self.fs, "_s3", None)
        if client is not None:
            self.fs._s3 = None
            await client.__aexit__(None, None, None)


def _object_size(answer: dict[str, Any]) -> int:
    """The whole object's size from a GET's answer: the total of its ``Content-Range``
    for a range, else its length."""
    total = answer.get("ContentRange", "").rpartition("/")[2]
    return int(total) if total.isdigit() else int(answer["ContentLength"])


def _s3_status(exc: BaseException) -> int | None:
    """The HTTP status of S3's answer behind an exception (s3fs turns botocore's
    error into a Python one and keeps it as the cause)."""
    for error in (exc, exc.__cause__):
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


class S3Upload(PartedUpload):
    """A multipart upload; a create-only one is completed with ``IfNoneMatch: *``."""

    backend: S3Backend

    def __init__(self, backend: S3Backend, target: str, conditions: WriteConditions) -> None:
        super().__init__(backend, target, conditions)
        self.bucket, self.key, _ = backend.fs.split_path(target)
        self.content_type = mimetypes.guess_type(target)[0] or "application/octet-stream"
        self._upload_id = ""

    @property
    def _object(self) -> dict[str, str]:
        return {"Bucket": self.bucket, "Key": self.key}

    @property
    def _match(self) -> dict[str, str]:
        return {"IfNoneMatch": "*"} if self.create_only else {}

    async def _begin(self) -> None:
        created = await self.backend.call_s3(
            "create_multipart_upload", **self._object, ContentType=self.content_type
        )
        self._upload_id = created["UploadId"]

    async def _send_part(self, number: int, body: bytes) -> dict[str, Any]:
        return await self.backend.call_s3(
            "upload_part", **self._object, UploadId=self._upload_id, PartNumber=number, Body=body
        )

    async def _complete(self, sent: list[Any], rest: bytes, version: Any) -> None:
        if rest:
            sent = [*sent, await self._send_part(len(sent) + 1, rest)]
        parts = [{"PartNumber": n, "ETag": part["ETag"]} for n, part in enumerate(sent, 1)]
        await self.backend.call_s3(
            "complete_multipart_upload",
            **self._object,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
            **self._match,
        )

    async def _put_whole(self, body: bytes, version: Any) -> None:
        await self.backend.call_s3(
            "put_object", **self._object, Body=body, ContentType=self.content_type, **self._match
        )

    async def _cancel(self) -> None:
        await self.backend.call_s3(
            "abort_multipart_upload", **self._object, UploadId=self._upload_id
        )
