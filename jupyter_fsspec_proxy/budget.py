"""A process-wide allowance of bytes that requests may hold in memory at once."""

from __future__ import annotations

import asyncio
from collections import deque

from .errors import Busy

UNLIMITED = 2**62
BUSY = "The server holds as much data in memory as it may: retry in a moment"


class ByteBudget:
    """Bytes taken by a request are given back when it no longer holds them.

    Waiters are served in order. A request that needs more than the whole budget
    gets it when nobody else holds any, so it never waits forever.
    """

    def __init__(self, limit: int, wait: float) -> None:
        self.limit = limit
        self.wait = wait  # seconds one request may wait in all, before Busy
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, size: int) -> bool:
        return self.used + size <= self.limit or self.used == 0

    def try_take(self, size: int) -> bool:
        """Take ``size`` bytes now if they fit and nobody waits before us."""
        if self._waiting or not self._fits(size):
            return False
        self.used += size
        return True

    async def take(self, size: int, timeout: float) -> None:
        """Take ``size`` bytes, waiting up to ``timeout`` seconds for them, then
        :class:`Busy` (503 with Retry-After)."""
        if self.try_take(size):
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), max(timeout, 0))
        except BaseException as exc:
            if waiter.done() and isinstance(exc, asyncio.TimeoutError):
                return  # granted just as the time ran out
            if waiter.done():
                self.give_back(size)
            else:
                self._waiting.remove(entry)
                self._wake()
            if isinstance(exc, asyncio.TimeoutError):
                raise Busy(BUSY) from None
            raise

    def give_back(self, size: int) -> None:
        self.used -= size
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            size, waiter = self._waiting.popleft()
            self.used += size
            waiter.set_result(None)
