"""Uploads to S3 stream as a multipart upload: nothing staged on disk, bounded memory,
the object whole or absent, and create-only decided by S3 itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import s3fs
import yaml

from jupyter_fsspec_proxy.testing.calls import put_head
from jupyter_fsspec_proxy.testing.processes import PeakRSS, unread, wait_until
from jupyter_fsspec_proxy.testing.sources import s3_kwargs, staged_uploads, write_s3_config
from jupyter_fsspec_proxy.testing.standalone import Proxy, standalone

pytestmark = pytest.mark.slow

MiB = 2**20
PIECE = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def s3_proxy(tmp_path, s3_endpoint, s3_prefix):
    write_s3_config(tmp_path, s3_endpoint, s3_prefix)
    s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    with standalone(tmp_path, "dev") as proxy:
        yield proxy, s3, s3_prefix


def start_put(proxy: Proxy, name: str, size: int, headers: dict | None = None):
    """A PUT whose headers are sent; its body is sent by the caller."""
    return put_head(
        proxy.port, f"files/S3/{name}", {"Content-Length": str(size), **(headers or {})}
    )


def in_progress(s3: s3fs.S3FileSystem, prefix: str) -> list[str]:
    bucket = prefix.split("/")[0]
    uploads = s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
    return [u["Key"] for u in uploads if u["Key"].startswith(prefix.split("/", 1)[1])]


def test_a_large_upload_streams_as_parts_and_appears_only_when_complete(s3_proxy):
    proxy, s3, prefix = s3_proxy
    size = 96 * MiB
    assert proxy.request("GET", "api/ls/S3")[0].status == 200  # the S3 client is loaded
    with PeakRSS(proxy.process.pid) as memory:
        connection = start_put(proxy, "big.csv", size)
        for _ in range(24):
            connection.send(PIECE)
        # Parts are already in S3, not on the server's disk, and no object exists yet.
        wait_until(lambda: in_progress(s3, prefix) == [f"{prefix.split('/', 1)[1]}/big.csv"],
                   "a multipart upload is in progress")  # fmt: skip
        assert staged_uploads(Path(tempfile.gettempdir())) == []
        assert not s3.exists(f"{prefix}/big.csv")

        for _ in range(size // MiB - 24):
            connection.send(PIECE)
        response = connection.getresponse()
        assert response.status == 201, response.read()
    # three 8 MiB parts at most, and the copies of the HTTP client that sends them
    assert memory.growth_mib < 64, f"the server grew {memory.growth_mib:.0f} MiB for 96 MiB"
    s3.invalidate_cache()
    assert s3.cat(f"{prefix}/big.csv") == PIECE * (size // MiB)
    assert s3.info(f"{prefix}/big.csv")["ContentType"] == "text/csv"
    assert in_progress(s3, prefix) == []
    ok, body = proxy.request("GET", "files/S3/big.csv", headers={"Range": "bytes=-3"})
    assert (ok.status, body) == (206, PIECE[-3:])


def test_an_interrupted_upload_is_aborted_and_leaves_nothing(s3_proxy):
    proxy, s3, prefix = s3_proxy
    connection = start_put(proxy, "cut.bin", 64 * MiB)
    for _ in range(20):
        connection.send(PIECE)
    wait_until(lambda: in_progress(s3, prefix), "a multipart upload is in progress")
    connection.close()  # the client goes away mid-body

    wait_until(lambda: in_progress(s3, prefix) == [], "the multipart upload is aborted")
    s3.invalidate_cache()
    assert not s3.exists(f"{prefix}/cut.bin")
    listing, body = proxy.request("GET", "api/ls/S3")
    assert (listing.status, yaml.safe_load(body)) == (200, [])


@pytest.mark.parametrize("size", [MiB, 20 * MiB], ids=["one request", "multipart"])
def test_create_only_uploads_are_refused_by_s3_when_the_object_appears(s3_proxy, size):
    proxy, s3, prefix = s3_proxy
    connection = start_put(proxy, "taken.bin", size, {"If-None-Match": "*"})
    connection.send(PIECE[: MiB // 2])
    if size > MiB:
        connection.send(PIECE * 10)
        wait_until(lambda: in_progress(s3, prefix), "a multipart upload is in progress")
    else:  # the server reads no byte of a body before its early check found no object
        client = connection.sock.getsockname()[1]
        wait_until(lambda: unread(proxy.port, client) == [0], "the server reads the body")
    s3.pipe(f"{prefix}/taken.bin", b"second")  # another writer is first
    connection.send(b"x" * (size - MiB // 2 - (10 * MiB if size > MiB else 0)))
    response = connection.getresponse()
    assert response.status == 412, response.read()
    assert b"already exists" in response.read()
    s3.invalidate_cache()
    assert s3.cat(f"{prefix}/taken.bin") == b"second"
    wait_until(lambda: in_progress(s3, prefix) == [], "the multipart upload is aborted")

    refused, body = proxy.request("PUT", "files/S3/taken.bin", b"x", {"If-None-Match": "*"})
    assert refused.status == 412  # known at once: no body read
    created = start_put(proxy, "new.bin", size, {"If-None-Match": "*"})
    for _ in range(size // MiB):
        created.send(PIECE)
    assert created.getresponse().status == 201
    assert s3.cat(f"{prefix}/new.bin") == PIECE * (size // MiB)


def test_an_upload_larger_than_the_limit_is_aborted_mid_body(tmp_path, s3_endpoint, s3_prefix):
    write_s3_config(tmp_path, s3_endpoint, s3_prefix)
    s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    limit = f"--ProxyManager.max_upload_size={20 * MiB}"
    with standalone(tmp_path, "dev", limit) as proxy:
        connection = put_head(proxy.port, "files/S3/chunked.bin", {"Transfer-Encoding": "chunked"})
        with pytest.raises(OSError):  # the server answers and stops reading
            for _ in range(40):
                connection.send(b"100000\r\n" + PIECE + b"\r\n")
        assert connection.getresponse().status == 413
        wait_until(lambda: in_progress(s3, s3_prefix) == [], "the multipart upload is aborted")
        assert not s3.exists(f"{s3_prefix}/chunked.bin")
