"""How backends are run: slow synchronous ones off the event loop, with a timeout."""

from __future__ import annotations

import asyncio
import json

import pytest
import slow_backend  # registers slowmem://

from jupyter_fsspec_proxy.testing.calls import body_json


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
    done_before = slow_backend.SlowMemoryFileSystem.infos_done
    slow = asyncio.ensure_future(proxy("api", "info", "Slow", "anything"))
    await asyncio.sleep(0.2)  # the slow call is now sleeping in a thread
    quick = await proxy("files", "Local", "quick.txt")
    assert (quick.code, quick.body) == (200, b"quick")
    assert not slow.done()  # answered while the slow backend was still busy

    timed_out = await slow
    assert timed_out.code == 504
    assert body_json(timed_out) == {
        "error": "TimeoutError",
        "message": "The storage backend did not answer in time",
    }
    # answered at backend_timeout, while the call itself still sleeps in its thread
    assert slow_backend.SlowMemoryFileSystem.infos_done == done_before


async def test_batched_ranges_of_a_slow_backend_overlap(proxy, monkeypatch):
    monkeypatch.setattr(slow_backend.SlowMemoryFileSystem, "open_delay", 0.3)
    monkeypatch.setattr(slow_backend.SlowMemoryFileSystem, "most_opening", 0)
    memory = slow_backend.SlowMemoryFileSystem()
    for n in range(8):
        memory.pipe_file(f"/slow/f{n}.bin", bytes([n]) * 1000)
    items = [{"path": f"Slow/f{n}.bin", "start": 10, "end": 20} for n in range(8)]
    items.insert(4, {"path": "Slow/missing.bin", "start": 0, "end": 5})
    response = await proxy("api", "ranges", method="POST", body=json.dumps({"ranges": items}))
    frames = response.body.split(b"\n")
    headers = [json.loads(line) for line in frames if line.startswith(b'{"index"')]
    assert [header["index"] for header in headers] == list(range(9))  # in order
    assert headers[4]["status"] == 404
    for n, header in enumerate(h for h in headers if "error" not in h):
        assert header["size"] == 10
        assert bytes([n]) * 10 in response.body
    # the opens overlapped rather than running one after the other
    assert slow_backend.SlowMemoryFileSystem.most_opening > 1
