"""One authenticated user cannot make the server hold memory without bound: stalled
uploads and batched reads that are never read are bounded and cut off."""

from __future__ import annotations

import json
import socket
import time

import pytest
import s3fs

from jupyter_fsspec_proxy.testing.calls import raw_connection
from jupyter_fsspec_proxy.testing.processes import PeakRSS, wait_until
from jupyter_fsspec_proxy.testing.sources import s3_kwargs, write_s3_config
from jupyter_fsspec_proxy.testing.standalone import Proxy, standalone

pytestmark = pytest.mark.slow

MiB = 2**20
PIECE = bytes(range(256)) * 4096  # 1 MiB
TOKEN = "exhaustion-token"
AUTH = {"Authorization": f"token {TOKEN}"}


@pytest.fixture
def s3_proxy(tmp_path, s3_endpoint, s3_prefix):
    write_s3_config(tmp_path, s3_endpoint, s3_prefix)
    s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    options = [
        f"--IdentityProvider.token={TOKEN}",
        f"--ProxyManager.upload_memory={32 * MiB}",
        f"--ProxyManager.readahead_memory={16 * MiB}",
        "--ProxyManager.upload_idle_timeout=3",
        "--ProxyManager.send_timeout=3",
    ]
    with standalone(tmp_path, "run", *options) as proxy:
        assert proxy.request("GET", "api/ls/S3", headers=AUTH)[0].status == 200  # S3 loaded
        yield proxy, s3, s3_prefix


def stalled_upload(proxy: Proxy, name: str, sent: int) -> socket.socket:
    """An upload that announces 64 MiB, sends ``sent`` bytes, then nothing."""
    headers = {"Authorization": f"token {TOKEN}", "Content-Length": str(64 * MiB)}
    sock = raw_connection(proxy.port, "PUT", f"files/S3/{name}", headers)
    sock.setblocking(False)
    left = sent
    while left:  # as much as the server takes now, without waiting for it
        try:
            left -= sock.send(PIECE[: min(left, MiB)])
        except BlockingIOError:
            break
    return sock


def answer(sock: socket.socket, timeout: float = 30) -> bytes:
    sock.setblocking(True)
    sock.settimeout(timeout)
    return sock.recv(4096)


def test_stalled_uploads_hold_bounded_memory_and_are_cut_off(s3_proxy):
    proxy, s3, prefix = s3_proxy
    with PeakRSS(proxy.process.pid) as memory:
        stalled = [stalled_upload(proxy, f"stall-{n}.bin", 8 * MiB - 4096) for n in range(24)]
        time.sleep(1.5)
        answers = [answer(sock) for sock in stalled]
    # without a bound: 24 x 8 MiB held until upload_timeout (an hour)
    assert memory.growth_mib < 48, f"24 stalled uploads grew the server {memory.growth_mib:.0f} MiB"
    statuses = sorted(a.split(b" ")[1].decode() for a in answers)
    assert set(statuses) <= {"408", "503"} and "408" in statuses, statuses
    for data in answers:
        assert b"Connection: close" in data
    wait_until(lambda: not s3.call_s3("list_multipart_uploads", Bucket=prefix.split("/")[0])
               .get("Uploads"), "the stalled multipart uploads are aborted")  # fmt: skip
    assert not s3.exists(prefix)  # no object either
    # and then the memory is free for the next upload
    ok, body = proxy.request("PUT", "files/S3/after.bin", body=PIECE * 12, headers=AUTH)
    assert ok.status == 201, body


def test_batched_reads_nobody_reads_are_bounded_and_cut_off(s3_proxy):
    proxy, s3, prefix = s3_proxy
    s3.pipe_file(f"{prefix}/big.bin", PIECE * 16)
    ranges = [{"path": "S3/big.bin", "start": i * MiB, "end": (i + 1) * MiB} for i in range(16)]
    body = json.dumps({"ranges": ranges * 8}).encode()
    with PeakRSS(proxy.process.pid) as memory:
        readers = []
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", proxy.port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            head = "POST /fsspec-proxy/api/ranges HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            head += f"Authorization: token {TOKEN}\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(body)}\r\n\r\n"
            sock.sendall(head.encode() + body)
            readers.append(sock)  # and never read
        wait_until(lambda: proxy.log.read_text().count("it took nothing for too long") == 16,
                   "the server cut off all 16 clients", timeout=90)  # fmt: skip
    assert memory.growth_mib < 64, f"16 unread batches grew the server {memory.growth_mib:.0f} MiB"
    for sock in readers:
        sock.close()
    ok, data = proxy.request("GET", "files/S3/big.bin", headers={**AUTH, "Range": "bytes=0-2"})
    assert (ok.status, data) == (206, PIECE[:3])
