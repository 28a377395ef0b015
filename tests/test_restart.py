"""The standalone proxy killed (SIGKILL) and restarted under load: only the
requests in flight fail, their retries succeed, and no file is left half-written."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time

import pytest

from jupyter_fsspec_proxy.testing.calls import KeepAlive
from jupyter_fsspec_proxy.testing.processes import free_port, wait_until
from jupyter_fsspec_proxy.testing.sources import staged_uploads
from jupyter_fsspec_proxy.testing.standalone import intact, sealed, standalone

pytestmark = pytest.mark.slow

TOKEN = "restart-token"
AUTH = {"Authorization": f"token {TOKEN}"}
CLIENTS = 8
BIG = 4 * 2**20
RETRY_FOR = 60.0


class Client(threading.Thread):
    """Writes, reads back and range-reads its own file, and reads a shared one.

    An operation that fails on the network is retried until it succeeds; a
    wrong status or wrong bytes is recorded as a defect, never retried.
    """

    def __init__(self, number: int, port: int, stop: threading.Event, big: bytes) -> None:
        super().__init__(daemon=True)
        self.number, self.port, self.stop, self.big = number, port, stop, big
        self.completed: list[float] = []  # when each operation succeeded
        self.failed: list[tuple[float, str]] = []  # first failure of each operation
        self.defects: list[str] = []
        self.server = KeepAlive(port, AUTH, timeout=30)
        self.call = self.server.call

    def attempt(self, operation, *args) -> None:
        deadline = time.monotonic() + RETRY_FOR
        first = True
        while True:
            try:
                operation(*args)
                self.completed.append(time.monotonic())
                return
            except (OSError, http.client.HTTPException) as error:
                if first:
                    self.failed.append((time.monotonic(), type(error).__name__))
                    first = False
                self.server.reconnect()
                if time.monotonic() > deadline:
                    self.defects.append(f"client {self.number}: gave up after {error!r}")
                    return
                time.sleep(0.05)

    def check(self, what: str, condition: bool) -> None:
        if not condition:
            self.defects.append(f"client {self.number}: {what}")

    def write(self, path: str, payload: bytes) -> None:
        status, _ = self.call("PUT", path, payload)
        self.check(f"write {status}", status == 201)

    def read_back(self, path: str, payload: bytes) -> None:
        status, body = self.call("GET", path)
        self.check(f"read {status}", status == 200 and body == payload)

    def read_shared(self, start: int) -> None:
        headers = {"Range": f"bytes={start}-"}
        status, body = self.call("GET", "files/Local/big.bin", headers=headers)
        self.check(f"shared read {status}", status == 206 and body == self.big[start:])

    def run(self) -> None:
        rng = random.Random(self.number)
        own = f"files/Local/client-{self.number}.bin"
        while not self.stop.is_set():
            payload = sealed(rng.randbytes(rng.randrange(1, 512 * 1024)))
            self.attempt(self.write, own, payload)
            self.attempt(self.read_back, own, payload)
            self.attempt(self.read_shared, rng.randrange(BIG - 65536))
        self.server.connection.close()


def test_kill_and_restart_under_load(tmp_path):
    big = random.Random(0).randbytes(BIG)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(big)
    port = free_port()
    args = ("run", f"--IdentityProvider.token={TOKEN}")
    stop = threading.Event()
    clients = [Client(number, port, stop, big) for number in range(CLIENTS)]
    with standalone(tmp_path, *args, port=port) as first:
        for client in clients:
            client.start()
        time.sleep(2)  # under load for 2 s at least, and with every client at work:
        wait_until(lambda: all(len(c.completed) >= 6 for c in clients), "every client works",
                   timeout=60)  # fmt: skip
        killed = time.monotonic()
        first.process.kill()
        first.process.wait()
    with standalone(tmp_path, *args, port=port) as second:
        ready = time.monotonic()
        time.sleep(2)
        wait_until(lambda: all(len([t for t in c.completed if t > ready]) >= 6 for c in clients),
                   "every client works against the new process", timeout=RETRY_FOR)  # fmt: skip
        stop.set()
        for client in clients:
            client.join(timeout=RETRY_FOR + 30)

        assert [defect for client in clients for defect in client.defects] == []
        for client in clients:
            # At most the one request it had in flight failed, at the kill or while down ...
            assert len(client.failed) <= 1, client.failed
            assert all(killed <= when <= ready for when, _ in client.failed)
            # ... and each client went on working against the new process.
            assert any(when > ready for when in client.completed)
        assert sum(len(client.failed) for client in clients) >= CLIENTS // 2

        for number in range(CLIENTS):
            status, body = second.request("GET", f"files/Local/client-{number}.bin", headers=AUTH)
            assert status.status == 200 and intact(body)
        # Uploads cut by the kill stay staged beside their targets, out of listings.
        _, listing = second.request("GET", "api/ls/Local?detail=false", headers=AUTH)
        expected = ["Local/big.bin", *(f"Local/client-{n}.bin" for n in range(CLIENTS))]
        assert sorted(json.loads(listing)) == sorted(expected)
    completed = sum(len(client.completed) for client in clients)
    failed = sum(len(client.failed) for client in clients)
    staged = len(staged_uploads(tmp_path / "data"))
    print(f"{completed} operations; {failed} failed in flight, then succeeded; {staged} staged")
