"""The raw file URL: reads with ranges and validators, streamed atomic uploads, deletes."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.sources import WRITABLE

DATA = bytes(range(256)) * 40  # 10 KiB


async def put(proxy, source: str, name: str, data: bytes, **kwargs):
    return await proxy("files", source, name, method="PUT", body=data, **kwargs)


@pytest.mark.parametrize("source", WRITABLE)
async def test_upload_then_download_round_trips(proxy, source):
    created = await put(proxy, source, "dir/data.bin", DATA)
    assert created.code == 201
    assert body_json(created)["size"] == len(DATA)
    assert body_json(created)["name"] == f"{source}/dir/data.bin"

    response = await proxy("files", source, "dir/data.bin")
    assert response.code == 200
    assert response.body == DATA
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["ETag"] == created.headers["ETag"]
    assert "Last-Modified" in response.headers


@pytest.mark.parametrize(
    ("header", "status", "expected", "content_range"),
    [
        ("bytes=0-99", 206, DATA[:100], "bytes 0-99/10240"),
        ("bytes=10000-", 206, DATA[10000:], "bytes 10000-10239/10240"),
        ("bytes=-16", 206, DATA[-16:], "bytes 10224-10239/10240"),
        ("bytes=10200-20000", 206, DATA[10200:], "bytes 10200-10239/10240"),
        ("bytes=5-5", 206, DATA[5:6], "bytes 5-5/10240"),
        ("bytes=-99999", 206, DATA, "bytes 0-10239/10240"),
        ("bytes=9-3", 200, DATA, None),  # invalid: ignored, whole file
        ("items=0-3", 200, DATA, None),  # unknown unit: ignored
        ("bytes=0-1,5-6", 200, DATA, None),  # several ranges: whole file
        ("BYTES=1-2", 206, DATA[1:3], "bytes 1-2/10240"),  # units are case-insensitive
        ("bytes=0-99999999999999999999", 206, DATA, "bytes 0-10239/10240"),
        ("bytes=--1", 200, DATA, None),
    ],
)
@pytest.mark.parametrize("source", ["Local", "S3"])
async def test_single_ranges_follow_rfc_9110(
    proxy, source, header, status, expected, content_range
):
    await put(proxy, source, "r.bin", DATA)
    response = await proxy("files", source, "r.bin", headers={"Range": header})
    assert response.code == status
    assert response.body == expected
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.headers.get("Content-Range") == content_range
    # whole files are revalidated by browsers, pieces never stored
    assert response.headers["Cache-Control"] == ("no-store" if status == 206 else "no-cache")


@pytest.mark.parametrize(
    "header", ["bytes=10240-", "bytes=99999-100000", "bytes=-0", "bytes=99999999999999999999-"]
)
async def test_unsatisfiable_range_is_416_with_size(proxy, header):
    await put(proxy, "Local", "r.bin", DATA)
    response = await proxy("files", "Local", "r.bin", headers={"Range": header})
    assert response.code == 416
    assert response.headers["Content-Range"] == "bytes */10240"
    assert body_json(response)["error"] == "RequestedRangeNotSatisfiable"


async def test_head_gives_headers_without_body(proxy):
    await put(proxy, "Scratch", "notes.csv", b"a,b\n1,2\n")
    response = await proxy("files", "Scratch", "notes.csv", method="HEAD")
    assert response.code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "8"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


async def test_conditional_requests(proxy):
    etag = (await put(proxy, "Local", "c.txt", b"v1")).headers["ETag"]
    last_modified = (await proxy("files", "Local", "c.txt")).headers["Last-Modified"]

    same = await proxy("files", "Local", "c.txt", headers={"If-None-Match": etag})
    assert same.code == 304
    assert same.body == b""
    since = await proxy("files", "Local", "c.txt", headers={"If-Modified-Since": last_modified})
    assert since.code == 304
    other = await proxy("files", "Local", "c.txt", headers={"If-None-Match": '"other"'})
    assert other.code == 200
    assert other.body == b"v1"
    mismatch = await proxy("files", "Local", "c.txt", headers={"If-Match": '"other"'})
    assert mismatch.code == 412

    stale_if_range = {"Range": "bytes=0-0", "If-Range": '"stale"'}
    whole = await proxy("files", "Local", "c.txt", headers=stale_if_range)
    assert (whole.code, whole.body) == (200, b"v1")
    fresh_if_range = {"Range": "bytes=0-0", "If-Range": etag}
    part = await proxy("files", "Local", "c.txt", headers=fresh_if_range)
    assert (part.code, part.body) == (206, b"v")


async def test_conditional_uploads(proxy):
    first = await put(proxy, "Scratch", "once.txt", b"1", headers={"If-None-Match": "*"})
    assert first.code == 201
    again = await put(proxy, "Scratch", "once.txt", b"2", headers={"If-None-Match": "*"})
    assert again.code == 412
    stale = await put(proxy, "Scratch", "once.txt", b"3", headers={"If-Match": '"stale"'})
    assert stale.code == 412
    fresh = await put(
        proxy, "Scratch", "once.txt", b"4", headers={"If-Match": first.headers["ETag"]}
    )
    assert fresh.code == 201
    assert (await proxy("files", "Scratch", "once.txt")).body == b"4"


@pytest.mark.parametrize("source", WRITABLE)
async def test_empty_file(proxy, source):
    assert (await put(proxy, source, "empty", b"")).code == 201
    response = await proxy("files", source, "empty")
    assert (response.code, response.body) == (200, b"")
    ranged = await proxy("files", source, "empty", headers={"Range": "bytes=0-"})
    assert ranged.code == 416


async def test_missing_file_and_source_are_404(proxy, local_root):
    missing = await proxy("files", "Local", "nope.txt")
    assert missing.code == 404
    assert body_json(missing)["error"] == "FileNotFoundError"
    assert "Local/nope.txt" in body_json(missing)["message"]
    assert str(local_root) not in body_json(missing)["message"]  # the server's layout stays private
    nosource = await proxy("files", "Nope", "x")
    assert nosource.code == 404
    assert "Nope" in body_json(nosource)["message"]


async def test_unknown_routes_are_json_404(proxy, raw):
    for path in ("client/0", "nothing/here", "api/unknown"):
        response = await raw(path)
        assert response.code == 404, path
        assert body_json(response)["error"] == "NotFound"


async def test_reading_a_directory_is_400(proxy):
    await put(proxy, "Local", "d/f.txt", b"x")
    response = await proxy("files", "Local", "d")
    assert response.code == 400
    assert "directory" in body_json(response)["message"]


@pytest.mark.parametrize("proxy_config", [{"max_upload_size": 1024}])
async def test_upload_over_limit_is_413_and_writes_nothing(proxy, local_root):
    response = await put(proxy, "Local", "big.bin", b"x" * 2048)
    assert response.code == 413
    assert not (local_root / "big.bin").exists()
    assert list(local_root.iterdir()) == []


async def test_invalid_content_length_is_400(
    http_server, jp_http_port, jp_base_url, jp_auth_header, local_root
):
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    request = (
        f"PUT {jp_base_url}fsspec-proxy/files/Local/bad.bin HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{jp_http_port}\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\nContent-Length: -5\r\n\r\nx"
    )
    writer.write(request.encode())
    status = await reader.readline()
    writer.close()
    assert status.split()[1] == b"400"
    assert list(local_root.iterdir()) == []


@pytest.mark.parametrize("source", WRITABLE)
async def test_delete_file_and_directory(proxy, source):
    await put(proxy, source, "tree/a.txt", b"a")
    await put(proxy, source, "tree/sub/b.txt", b"b")
    refused = await proxy("files", source, "tree", method="DELETE")
    assert refused.code == 400
    assert "recursive" in body_json(refused)["message"]

    assert (await proxy("files", source, "tree/a.txt", method="DELETE")).code == 204
    assert (await proxy("files", source, "tree/a.txt")).code == 404
    gone = await proxy("files", source, "tree", method="DELETE", params={"recursive": "true"})
    assert gone.code == 204
    assert body_json(await proxy("api", "exists", source, "tree/sub/b.txt")) == {"exists": False}
    assert (await proxy("files", source, "tree/a.txt", method="DELETE")).code == 404


async def test_source_root_cannot_be_written_or_deleted(proxy):
    deleted = await proxy("files", "Local", "", method="DELETE", params={"recursive": "true"})
    assert deleted.code == 400
    assert (await put(proxy, "Local", "", b"x")).code == 400


async def test_files_are_sandboxed_never_pages_of_the_server(proxy):
    await put(proxy, "Local", "page.html", b"<script>fetch('/api/contents')</script>")
    served = await proxy("files", "Local", "page.html")
    missing = await proxy("files", "Local", "nothing.html")
    assert (served.code, missing.code) == (200, 404)
    for answer in (served, missing):
        assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
