"""How backends are run: slow synchronous ones off the event loop, with a timeout."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import slow_backend  # registers slowmem://
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


async def test_batched_ranges_of_a_slow_backend_overlap(proxy, monkeypatch):
    monkeypatch.setattr(slow_backend.SlowMemoryFileSystem, "open_delay", 0.3)
    memory = slow_backend.SlowMemoryFileSystem()
    for n in range(8):
        memory.pipe_file(f"/slow/f{n}.bin", bytes([n]) * 1000)
    items = [{"path": f"Slow/f{n}.bin", "start": 10, "end": 20} for n in range(8)]
    items.insert(4, {"path": "Slow/missing.bin", "start": 0, "end": 5})
    started = time.perf_counter()
    response = await proxy("api", "ranges", method="POST", body=json.dumps({"ranges": items}))
    elapsed = time.perf_counter() - started
    frames = response.body.split(b"\n")
    headers = [json.loads(line) for line in frames if line.startswith(b'{"index"')]
    assert [header["index"] for header in headers] == list(range(9))  # in order
    assert headers[4]["status"] == 404
    for n, header in enumerate(h for h in headers if "error" not in h):
        assert header["size"] == 10
        assert bytes([n]) * 10 in response.body
    assert elapsed < 1.5  # 9 opens of 0.3 s each, overlapped rather than 2.7 s in a row
