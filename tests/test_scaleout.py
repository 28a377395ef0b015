"""Scale-out: nginx, configured as the docs say, in front of two standalone replicas."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time

import pytest

from jupyter_fsspec_proxy.testing.balancer import balancer, requests_by_line, served_by
from jupyter_fsspec_proxy.testing.processes import free_port, wait_until
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow

TOKEN = "scale-out-token"
AUTH = {"Authorization": f"token {TOKEN}"}
SIZE = 8 * 2**20
READERS = 8


class Reader(threading.Thread):
    """Random 4 KiB range reads through the balancer until told to stop."""

    def __init__(self, number: int, port: int, data: bytes, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.number, self.port, self.data, self.stop = number, port, data, stop
        self.done: list[float] = []
        self.lost: list[str] = []

    def run(self) -> None:
        rng = random.Random(self.number)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            start = rng.randrange(SIZE - 4096)
            headers = {**AUTH, "Range": f"bytes={start}-{start + 4095}"}
            try:
                connection.request("GET", "/fsspec-proxy/files/Local/big.bin", headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.lost.append(repr(error))
                connection.close()
                continue
            if response.status != 206 or body != self.data[start : start + 4096]:
                self.lost.append(f"{response.status}, {len(body)} bytes")
            self.done.append(time.monotonic())
        connection.close()


def reads(readers: list[Reader], after: float = 0.0) -> int:
    """How many reads the readers completed after ``after`` (a ``time.monotonic``)."""
    return sum(when > after for reader in readers for when in list(reader.done))


def test_two_replicas_share_the_load_and_survive_losing_one(tmp_path):
    data = random.Random(1).randbytes(SIZE)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(data)
    args = ("run", f"--IdentityProvider.token={TOKEN}")
    ports = [free_port(), free_port()]
    listen = free_port()
    with (
        standalone(tmp_path, *args, port=ports[0]) as first,
        standalone(tmp_path, *args, port=ports[1]),
        balancer(listen, ports, tmp_path) as access_log,
    ):
        front = http.client.HTTPConnection("127.0.0.1", listen, timeout=30)
        # A file written through one replica is read through both: no state in a replica.
        front.request("PUT", "/fsspec-proxy/files/Local/shared.txt", b"written once", AUTH)
        response = front.getresponse()
        assert response.status == 201, response.read()
        response.read()
        for _ in range(4):
            front.request("GET", "/fsspec-proxy/files/Local/shared.txt", headers=AUTH)
            response = front.getresponse()
            assert (response.status, response.read()) == (200, b"written once")
        # The requests of an upload session reach the replica that holds it.
        for target in ("a.bin", "b.bin", "c.bin"):
            front.request("POST", f"/fsspec-proxy/api/uploads/Local/{target}", b"", AUTH)
            response = front.getresponse()
            assert response.status == 201
            upload = f"/fsspec-proxy/api/uploads/Local/{target}?id={json.load(response)['id']}"
            for offset, last in ((0, ""), (5, ""), (10, "&last=true")):
                front.request("PUT", f"{upload}&offset={offset}{last}", b"piece", AUTH)
                response = front.getresponse()
                assert response.status == (201 if last else 200), response.read()
                response.read()
            assert (tmp_path / "data" / target).read_bytes() == b"piece" * 3
        front.close()
        replicas = [f"127.0.0.1:{port}" for port in ports]
        assert set(served_by(access_log)) == set(replicas)

        stop = threading.Event()
        readers = [Reader(n, listen, data, stop) for n in range(READERS)]
        for reader in readers:
            reader.start()
        time.sleep(1.5)  # and at least 100 reads, by every reader, before the kill
        wait_until(lambda: all(r.done for r in readers) and reads(readers) >= 100,
                   "the readers are at work", timeout=60)  # fmt: skip
        before = served_by(access_log)
        first.process.kill()  # SIGKILL, with requests in flight
        killed = time.monotonic()
        time.sleep(1.5)
        wait_until(lambda: reads(readers, after=killed) > 100, "the survivor serves", timeout=60)
        stop.set()
        for reader in readers:
            reader.join(timeout=60)

    assert [lost for reader in readers for lost in reader.lost] == []
    shares = [before[replica] / sum(before.values()) for replica in replicas]
    assert min(shares) > 0.3, shares  # round robin spreads the reads
    after_kill = reads(readers, after=killed)
    assert after_kill > 100  # the survivor went on serving every read
    retried = sum(len(replicas_of) > 1 for replicas_of in requests_by_line(access_log))
    assert retried >= 1  # nginx moved at least one in-flight GET to the survivor
    total = sum(len(reader.done) for reader in readers)
    print(f"{total} reads, {after_kill} after the kill, {retried} retried, 0 lost; {shares}")
