"""What the proxy says of a file is what the store holds now: no listing cache
outlives a change made behind its back, a read never mixes two versions, and a
reload never closes a backend under a request still using it."""

from __future__ import annotations

import asyncio

import pytest
import s3fs

from jupyter_fsspec_proxy.errors import SourceChanged
from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.sources import manager_of, s3_kwargs


@pytest.fixture
def outside(s3_endpoint) -> s3fs.S3FileSystem:
    """Another writer on the same bucket: a second replica, or any other tool."""
    return s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)


async def test_changes_behind_the_proxys_back_are_seen_at_once(proxy, outside, s3_prefix):
    assert (await proxy("files", "S3", "dir/a.txt", method="PUT", body=b"abc")).code == 201
    assert (await proxy("files", "S3", "dir/gone.txt", method="PUT", body=b"x")).code == 201
    listed = body_json(await proxy("api", "ls", "S3", "dir"))  # what a cache would keep
    assert {entry["name"] for entry in listed} == {"S3/dir/a.txt", "S3/dir/gone.txt"}
    assert body_json(await proxy("api", "info", "S3", "dir/a.txt"))["size"] == 3

    outside.pipe_file(f"{s3_prefix}/dir/a.txt", b"abcdef-longer")
    outside.pipe_file(f"{s3_prefix}/dir/b.txt", b"new")
    outside.rm_file(f"{s3_prefix}/dir/gone.txt")

    read = await proxy("files", "S3", "dir/a.txt")
    assert read.body == b"abcdef-longer"
    assert body_json(await proxy("api", "info", "S3", "dir/a.txt"))["size"] == 13
    names = {entry["name"] for entry in body_json(await proxy("api", "ls", "S3", "dir"))}
    assert names == {"S3/dir/a.txt", "S3/dir/b.txt"}
    assert (await proxy("files", "S3", "dir/b.txt")).body == b"new"
    created = await proxy(
        "files", "S3", "dir/gone.txt", method="PUT", body=b"y", headers={"If-None-Match": "*"}
    )
    assert created.code == 201


async def test_a_read_of_a_version_that_was_replaced_is_refused(jp_serverapp, outside, s3_prefix):
    manager = manager_of(jp_serverapp)
    backend = manager.source("S3", manager.shared_token_caller).backend
    path = f"{s3_prefix}/torn.txt"
    outside.pipe_file(path, b"old")
    etag = outside.info(path)["ETag"]
    outside.pipe_file(path, b"new and longer")
    with pytest.raises(SourceChanged):
        async for _ in backend.read(path, 0, 3, 1 << 20, etag=etag):
            pass
    current = outside.info(path)["ETag"]
    chunks = [chunk async for chunk in backend.read(path, 0, 14, 1 << 20, etag=current)]
    assert b"".join(chunks) == b"new and longer"


async def test_a_read_from_s3_is_one_request_whose_answer_describes_the_file(
    jp_serverapp, proxy, outside, s3_prefix, monkeypatch
):
    """A GET asks S3 once (the bytes and the metadata of one version), and answers the
    validators, size and conditions as before; a folder and a range past the end are
    told apart by asking S3 what the key is."""
    data = bytes(range(256)) * 40
    outside.pipe_file(f"{s3_prefix}/one/a.bin", data)
    etag = outside.info(f"{s3_prefix}/one/a.bin")["ETag"]
    manager = jp_serverapp.web_app.settings["fsspec_proxy_manager"]
    fs = manager.source("S3", manager.shared_token_caller).backend.fs
    calls, call_s3 = [], fs._call_s3

    async def counted(method, *args, **kwargs):
        calls.append(method)
        return await call_s3(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", counted)
    part = await proxy("files", "S3", "one/a.bin", headers={"Range": "bytes=100-199"})
    assert (part.code, part.body) == (206, data[100:200])
    assert part.headers["Content-Range"] == "bytes 100-199/10240"
    assert part.headers["ETag"] == etag
    assert calls == ["get_object"]
    whole = await proxy("files", "S3", "one/a.bin")
    assert (whole.code, whole.body, whole.headers["Content-Length"]) == (200, data, "10240")
    tail = await proxy("files", "S3", "one/a.bin", headers={"Range": "bytes=10000-20000"})
    assert (tail.code, tail.body) == (206, data[10000:])
    assert calls == ["get_object"] * 3
    suffix = await proxy("files", "S3", "one/a.bin", headers={"Range": "bytes=-40"})
    assert (suffix.code, suffix.body) == (206, data[-40:])  # the size first: two requests
    assert calls[3:] == ["head_object", "get_object"]
    unchanged = await proxy("files", "S3", "one/a.bin", headers={"If-None-Match": etag})
    assert (unchanged.code, unchanged.body) == (304, b"")
    beyond = await proxy("files", "S3", "one/a.bin", headers={"Range": "bytes=20000-"})
    assert (beyond.code, beyond.headers["Content-Range"]) == (416, "bytes */10240")
    folder = await proxy("files", "S3", "one")
    assert body_json(folder)["error"] == "IsADirectoryError"
    missing = await proxy("files", "S3", "one/nope.bin")
    assert missing.code == 404


@pytest.mark.slow
@pytest.mark.parametrize("proxy_config", [{"allow_reload": True}])
async def test_reloads_never_close_a_backend_under_a_request(proxy):
    payload = bytes(range(256)) * 256
    assert (await proxy("files", "S3", "shared.bin", method="PUT", body=payload)).code == 201

    async def reader() -> list[int]:
        failed = []
        for _ in range(50):
            response = await proxy("files", "S3", "shared.bin")
            if response.code != 200 or response.body != payload:
                failed.append(response.code)
        return failed

    async def reloader() -> list[int]:
        codes = []
        for _ in range(30):
            codes.append((await proxy("api", "reload", method="POST", body=b"")).code)
            await asyncio.sleep(0)
        return codes

    *readers, reloads = await asyncio.gather(*(reader() for _ in range(4)), reloader())
    assert reloads == [200] * 30
    assert readers == [[], [], [], []]
