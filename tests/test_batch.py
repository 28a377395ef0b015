"""POST api/ranges: many ranges of many files in one streamed response."""

from __future__ import annotations

import json

import pytest

from jupyter_fsspec_proxy.testing.calls import body_json

DATA = bytes(range(256)) * 64  # 16 KiB


def parse_frames(body: bytes) -> dict[int, dict]:
    """Reassemble frames into {index: {"data": bytes} or the error header}."""
    results: dict[int, dict] = {}
    pos = 0
    while pos < len(body):
        newline = body.index(b"\n", pos)
        header = json.loads(body[pos:newline])
        pos = newline + 1 + header["size"]
        entry = results.setdefault(header["index"], {"data": b""})
        if "error" in header:
            entry.update(header)
        entry["data"] += body[newline + 1 : pos]
    return results


async def ranges(proxy, items: list[dict]):
    return await proxy("api", "ranges", method="POST", body=json.dumps({"ranges": items}))


@pytest.mark.parametrize("source", ["Local", "S3", "Scratch"])
async def test_many_ranges_of_many_files_in_one_response(proxy, source):
    for n in range(3):
        await proxy("files", source, f"f{n}.bin", method="PUT", body=DATA[n:])
    items = [
        {"path": f"{source}/f{n}.bin", "start": start, "end": start + 100}
        for n in range(3)
        for start in (0, 5000, 16000)
    ]
    items += [
        {"path": f"{source}/f0.bin", "start": -10, "end": None},
        {"path": f"{source}/f1.bin", "start": 100, "end": 100},
        {"path": f"{source}/missing.bin", "start": 0, "end": 10},
        {"path": "Nope/x", "start": 0, "end": 10},
    ]
    response = await ranges(proxy, items)
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/vnd.fsspec-proxy.ranges"
    results = parse_frames(response.body)
    assert len(results) == len(items)
    for index, item in enumerate(items[:9]):
        n = int(item["path"][-5])
        assert results[index]["data"] == DATA[n:][item["start"] : item["end"]]
    assert results[9]["data"] == DATA[-10:]
    assert results[10]["data"] == b""
    assert (results[11]["status"], results[11]["error"]) == (404, "FileNotFoundError")
    assert results[12]["status"] == 404


@pytest.mark.parametrize("source", ["Local", "Scratch"])
async def test_absurd_offsets_fail_one_range_not_the_batch(proxy, source):
    await proxy("files", source, "f.bin", method="PUT", body=DATA)
    items = [
        {"path": f"{source}/f.bin", "start": 10**30, "end": None},
        {"path": f"{source}/f.bin", "start": -(10**30), "end": 3},
        {"path": f"{source}/f.bin", "start": 10**30, "end": 10**30 + 5},
    ]
    results = parse_frames((await ranges(proxy, items)).body)
    assert results[0]["status"] == 400
    assert results[1]["data"] == DATA[:3]
    assert results[2]["status"] == 400


@pytest.mark.parametrize("proxy_config", [{"chunk_size": 32 * 1024}])
async def test_a_range_larger_than_a_chunk_spans_frames(proxy):
    await proxy("files", "Local", "big.bin", method="PUT", body=DATA * 8)
    response = await ranges(proxy, [{"path": "Local/big.bin", "start": 1, "end": None}])
    assert parse_frames(response.body)[0]["data"] == (DATA * 8)[1:]
    assert response.body.count(b'{"index": 0') == 4  # 128 KiB in chunks of 32 KiB


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"ranges": []}',
        b'{"ranges": [{"start": 0}]}',
        b'{"ranges": [{"path": "Local/x", "start": "0"}]}',
        b'{"ranges": [{"path": "Local/x", "end": true}]}',
    ],
)
async def test_malformed_batches_are_400(proxy, body):
    response = await proxy("api", "ranges", method="POST", body=body)
    assert response.code == 400
    assert set(body_json(response)) == {"error", "message"}
