"""Faults: a stalled uploader, and the network to S3 dropping mid-transfer."""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator

import psutil
import pytest
import s3fs
import yaml
from moto.server import ThreadedMotoServer
from relay import Relay

from jupyter_fsspec_proxy.testing.calls import raw_connection
from jupyter_fsspec_proxy.testing.processes import free_port, wait_until
from jupyter_fsspec_proxy.testing.sources import dead_s3_kwargs, s3_kwargs, staged_uploads
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow

MiB = 2**20
BUCKET = "fault-tests"  # moto's state is per process: not the session's bucket


def test_stalled_uploads_time_out_and_leave_nothing(tmp_path):
    # 5 s: far longer than sending the 20 uploads and one other request, so that
    # they are still open when checked below
    with standalone(tmp_path, "dev", "--ProxyManager.upload_timeout=5") as proxy:
        server = psutil.Process(proxy.process.pid)
        proxy.request("GET", "api")
        fds_before = server.num_fds()
        stalled = []
        for n in range(20):  # each promises 1 MiB and sends 10 bytes
            path, headers = f"files/Local/slow-{n}.bin", {"Content-Length": str(MiB)}
            sock = raw_connection(proxy.port, "PUT", path, headers, b"0123456789")
            stalled.append(sock)
        response, _ = proxy.request("GET", "api")  # others are served meanwhile:
        assert response.status == 200
        stalled[0].setblocking(False)
        with pytest.raises(BlockingIOError):  # while the stalled uploads are still open
            stalled[0].recv(1024)
        for sock in stalled:
            sock.settimeout(30)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1024) == b""  # closed by the server, no answer
            sock.close()
        # the server discards an upload once it has closed its connection: just after
        wait_until(lambda: not list((tmp_path / "data").iterdir()), "the staged files are gone")
        assert staged_uploads(tmp_path / "data") == []
        wait_until(lambda: server.num_fds() <= fds_before + 1, "the server holds no descriptor")


@pytest.fixture
def s3_relay() -> Iterator[tuple[str, Relay]]:
    """moto, and a relay to it that can be cut: (moto's own endpoint, relay)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    relay = Relay(port)
    yield f"http://127.0.0.1:{port}", relay
    relay.close()
    server.stop()


def test_s3_dying_mid_transfer(tmp_path, s3_relay):
    endpoint, relay = s3_relay
    kwargs = {**dead_s3_kwargs(), "endpoint_url": f"http://127.0.0.1:{relay.port}"}
    s3 = s3fs.S3FileSystem(**s3_kwargs(endpoint), skip_instance_cache=True)
    s3.mkdir(BUCKET)
    payload = bytes(range(256)) * (64 * 1024)  # 16 MiB
    s3.pipe(f"{BUCKET}/big.bin", payload)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "local.txt").write_text("still here")
    sources = [
        {"name": "S3", "path": f"s3://{BUCKET}", "kwargs": kwargs},
        {"name": "Local", "path": str(tmp_path / "data")},
    ]
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    temporary = tmp_path / "tmp"  # the proxy's own: no other process stages there
    temporary.mkdir()
    chunks = "--ProxyManager.chunk_size=262144"
    with standalone(tmp_path, "dev", chunks, env={"TMPDIR": str(temporary)}) as proxy:
        download = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        download.request("GET", "/fsspec-proxy/files/S3/big.bin")
        response = download.getresponse()
        assert response.status == 200, response.read()
        assert int(response.getheader("Content-Length")) == len(payload)
        first = response.read(MiB)
        assert first == payload[:MiB]
        relay.cut()  # the network to S3 drops mid-download
        with pytest.raises(http.client.IncompleteRead):
            response.read()  # the proxy cuts the response short: never silently short data

        failed, body = proxy.request("PUT", "files/S3/new.bin", body=b"x" * MiB)
        assert failed.status == 502
        assert b"S3/new.bin: could not connect to the storage endpoint" in body
        listing, _ = proxy.request("GET", "api/ls/S3")
        assert listing.status == 502
        local, text = proxy.request("GET", "files/Local/local.txt")
        assert (local.status, text) == (200, b"still here")  # other sources keep serving
        assert staged_uploads(temporary) == []

        relay.restore()  # S3 is reachable again
        s3.invalidate_cache()
        assert not s3.exists(f"{BUCKET}/new.bin")  # the failed upload left no object
        assert s3.cat(f"{BUCKET}/big.bin") == payload
        retried, _ = proxy.request("PUT", "files/S3/new.bin", body=b"x" * MiB)
        assert retried.status == 201
        assert s3.cat(f"{BUCKET}/new.bin") == b"x" * MiB
