"""Azure Blob Storage through adlfs: uploads as block blobs committed by their block
list, create-only writes refused by Azure itself (``If-None-Match: *``). adlfs and
Azure's SDK are imported only by an Azure source (they are optional)."""

from __future__ import annotations

import base64
import mimetypes
import uuid
from typing import Any

from ..conditions import WriteConditions
from ..errors import PreconditionFailed
from ..metadata import FileMeta
from .base import Backend, Upload, shown_as
from .parts import PartedUpload


class AzureBackend(Backend):
    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        return AzureUpload(self, target, conditions)

    async def presign(self, path: str, expires: int, meta: FileMeta) -> str:
        """A URL with a read-only SAS signed by the account key."""
        content_type, disposition = shown_as(meta)
        url = self.fs._url(path, expires, content_type=content_type,
                           content_disposition=disposition)  # fmt: skip
        return await self._guard(url, path=path)

    async def close(self) -> None:
        from adlfs.utils import close_credential, close_service_client

        await close_service_client(self.fs)
        if getattr(self.fs, "credential", None) is not None:
            await close_credential(self.fs)


class AzureUpload(PartedUpload):
    """Blocks staged while the body arrives (invisible until committed; Azure drops
    uncommitted blocks after a week), the blob made by committing their list."""

    backend: AzureBackend

    def __init__(self, backend: AzureBackend, target: str, conditions: WriteConditions) -> None:
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        super().__init__(backend, target, conditions)
        container, key, _ = backend.fs.split_path(target)
        self._blob = backend.fs.service_client.get_blob_client(container, key)
        content_type = mimetypes.guess_type(target)[0] or "application/octet-stream"
        self._settings = ContentSettings(content_type=content_type)
        self._prefix = uuid.uuid4().hex  # block ids: one length within a blob
        self._match = {"match_condition": MatchConditions.IfMissing} if self.create_only else {}

    async def _begin(self) -> None:
        return None  # a blob's first staged block begins it

    async def _send_part(self, number: int, body: bytes) -> str:
        block = base64.b64encode(f"{self._prefix}-{number:06d}".encode()).decode()
        await self.backend._guard(self._blob.stage_block(block, body, length=len(body)))
        return block

    async def _complete(self, sent: list[Any], rest: bytes, version: Any) -> None:
        from azure.storage.blob import BlobBlock

        if rest:
            sent = [*sent, await self._send_part(len(sent) + 1, rest)]
        blocks = [BlobBlock(block_id=block) for block in sent]
        await self.backend._guard(
            _refused_if_exists(
                self._blob.commit_block_list(
                    blocks, content_settings=self._settings, **self._match
                )  # fmt: skip
            )
        )

    async def _put_whole(self, body: bytes, version: Any) -> None:
        await self.backend._guard(
            _refused_if_exists(
                self._blob.upload_blob(
                    body, overwrite=True, content_settings=self._settings, **self._match
                )  # fmt: skip
            )
        )

    async def _cancel(self) -> None:
        return None  # uncommitted blocks are never seen, and expire


async def _refused_if_exists(call: Any) -> Any:
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

    try:
        return await call
    except (ResourceExistsError, ResourceModifiedError):
        raise PreconditionFailed("The file already exists") from None
