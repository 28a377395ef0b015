"""Uploads streamed to an object store in parts as the body arrives (S3 multipart
uploads, GCS resumable uploads, Azure block blobs), never staged on disk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from ..conditions import WriteConditions
from .base import Backend, Upload, in_background

#: Bytes per part (S3's minimum is 5 MiB; a multiple of GCS's 256 KiB).
PART_SIZE = 8 * 2**20
PARTS_IN_FLIGHT = 2
#: Every this many parts, the part size doubles: S3 allows 10,000 parts.
PARTS_PER_SIZE = 1000


class PartedUpload(Upload):
    """A body shorter than one part is written in one request at commit. A longer
    one begins an upload on the store; parts are sent while the body arrives, at
    most ``parts_in_flight`` at once (reading from the client waits meanwhile, and
    the bytes held come from the process's upload budget), and only a commit
    completes it; anything else cancels it, so the object appears whole or not at all.

    A store's subclass says how to begin, send a part, complete, write a whole small
    body and cancel; the parts it is given are ``part_size`` (doubling every
    :data:`PARTS_PER_SIZE`) and the last, any size, at completion.
    """

    parts_in_flight = PARTS_IN_FLIGHT
    part_size = PART_SIZE

    def __init__(self, backend: Backend, target: str, conditions: WriteConditions) -> None:
        super().__init__(backend, target, conditions)
        self._chunks: list[bytes] = []  # received, not sent yet
        self._buffered = 0
        self._begun = False  # an upload exists on the store
        self._completed = False
        self._parts: list[asyncio.Task[Any]] = []
        self._ended = False
        self._may_wait = backend.upload_budget.wait  # seconds left to wait for memory

    # -- what a store does ---------------------------------------------------------

    async def _begin(self) -> None:
        raise NotImplementedError

    async def _send_part(self, number: int, body: bytes) -> Any:
        raise NotImplementedError

    async def _complete(self, sent: list[Any], rest: bytes, version: Any) -> None:
        """Make the object of the parts ``sent`` and ``rest`` (maybe empty), under the
        commit's conditions (``version``: what :meth:`_verified` returned)."""
        raise NotImplementedError

    async def _put_whole(self, body: bytes, version: Any) -> None:
        raise NotImplementedError

    async def _cancel(self) -> None:
        raise NotImplementedError

    async def _verified(self, conditions: WriteConditions, name: str) -> Any:
        """Check ``If-Match`` (create-only is the store's to refuse); the store's own
        token for the version that matched, where it can make a write conditional."""
        if conditions.any and not conditions.create_only:
            conditions.verify(await self.backend.meta(self.target, name))
        return None

    # -- the body ------------------------------------------------------------------

    def write(self, data: bytes) -> Awaitable[None] | None:
        """Buffer ``data`` within the process's upload memory (waiting for room if
        other uploads hold it all); send a part once one is full."""
        self.received += len(data)
        if not self.backend.upload_budget.try_take(len(data)):
            return self._buffer_when_taken(data)
        return self._buffer(data)

    async def _buffer_when_taken(self, data: bytes) -> None:
        """Wait for room, at most the budget's ``wait`` over the whole upload."""
        started = time.monotonic()
        try:
            await self.backend.upload_budget.take(len(data), self._may_wait)
        finally:
            self._may_wait -= time.monotonic() - started
        sending = self._buffer(data)
        if sending is not None:
            await sending

    def _buffer(self, data: bytes) -> Awaitable[None] | None:
        if self._ended:  # aborted while waiting for room
            self.backend.upload_budget.give_back(len(data))
            return None
        self._chunks.append(data)
        self._buffered += len(data)
        return self._send_full_parts() if self._buffered >= self._part_size else None

    @property
    def _part_size(self) -> int:
        return self.part_size << (len(self._parts) // PARTS_PER_SIZE)

    async def _send_full_parts(self) -> None:
        while self._buffered >= self._part_size and not self._ended:
            await self._wait_for_a_slot()  # reading from the client waits meanwhile
            await self._send(self._take(self._part_size))

    def _take(self, size: int | None = None) -> bytes:
        """The first ``size`` bytes buffered (None: all of them), joined once: only the
        chunks they span are copied, the last of them cut."""
        if size is None or size >= self._buffered:
            body = b"".join(self._chunks)
            self._chunks, self._buffered = [], 0
            return body
        spanned, count = 0, 0
        while count < size:
            count += len(self._chunks[spanned])
            spanned += 1
        head, rest = self._chunks[:spanned], self._chunks[spanned:]
        over = count - size  # bytes of the last spanned chunk that stay
        if over:
            last = head[-1]
            head[-1], rest = last[: len(last) - over], [last[len(last) - over :], *rest]
        self._chunks, self._buffered = rest, self._buffered - size
        return b"".join(head)

    async def _wait_for_a_slot(self) -> None:
        """Return once fewer than ``parts_in_flight`` parts are being sent; a failed
        part fails the upload now."""
        sending = [part for part in self._parts if not part.done()]
        if len(sending) >= self.parts_in_flight:
            await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
        for part in self._parts:
            if part.done():
                part.result()

    async def _send(self, body: bytes) -> None:
        """Send ``body`` as the next part; its memory goes back to the budget once the
        part is sent, has failed or was cancelled."""
        budget = self.backend.upload_budget
        try:
            if not self._begun:
                await self._begin()
                self._begun = True
        except BaseException:
            budget.give_back(len(body))
            raise
        if self._ended:  # the request ended while the upload was being begun
            budget.give_back(len(body))
            self.abort()
            return
        part = asyncio.ensure_future(self._send_part(len(self._parts) + 1, body))
        size = len(body)
        part.add_done_callback(lambda _: budget.give_back(size))
        self._parts.append(part)

    async def commit(self, conditions: WriteConditions, name: str) -> None:
        """Send the full parts, then make the object if its conditions hold."""
        try:
            if self._begun:
                await self._send_full_parts()
            sent = await asyncio.gather(*self._parts)
            async with self.backend.commit_lock(self.target):
                version = await self._verified(conditions, name)
                rest = self._take()
                try:
                    if self._begun:
                        await self._complete(sent, rest, version)
                    else:
                        await self._put_whole(rest, version)
                finally:
                    self.backend.upload_budget.give_back(len(rest))
                self._completed = True  # nothing left to cancel
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop sending parts and cancel the store's upload, if there is one."""
        self._ended = True
        self.backend.upload_budget.give_back(self._buffered)
        self._chunks, self._buffered = [], 0
        for part in self._parts:
            if part.done() and not part.cancelled():
                part.exception()  # seen: a failed part was answered already
            part.cancel()
        if self._begun and not self._completed:
            self._completed = True  # cancelled once
            in_background(self._cancel(), f"cancel the upload of {self.target!r}")
