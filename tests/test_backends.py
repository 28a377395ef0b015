"""How backends are run: slow synchronous ones off the event loop, with a timeout."""

from __future__ import annotations

import asyncio
import time

import pytest
import slow_backend  # noqa: F401 - registers slowmem://
from conftest import body_json


@pytest.fixture
def sources(local_root) -> list[dict]:
    return [
        {"name": "Slow", "path": "slowmem://slow"},
        {"name": "Local", "path": str(local_root)},
    ]


@pytest.fixture
def proxy_config() -> dict:
    return {"backend_timeout": 1.0}


async def test_a_slow_backend_times_out_with_504_and_blocks_nothing(proxy, local_root):
    (local_root / "quick.txt").write_text("quick")
    started = time.perf_counter()
    slow = asyncio.ensure_future(proxy("api", "info", "Slow", "anything"))
    await asyncio.sleep(0.2)  # the slow call is now sleeping in a thread
    quick = await proxy("files", "Local", "quick.txt")
    quick_done = time.perf_counter() - started
    assert (quick.code, quick.body) == (200, b"quick")
    assert quick_done < 0.8  # answered while the slow backend was still busy

    timed_out = await slow
    assert timed_out.code == 504
    assert body_json(timed_out) == {
        "error": "TimeoutError",
        "message": "The storage backend did not answer in time",
    }
    assert 0.9 < time.perf_counter() - started < 1.9  # backend_timeout, not the 2 s sleep
