"""Load on the standalone proxy: 64 concurrent clients, mixed reads and writes,
on distinct and shared files, with every byte checked (loopback only, bounded)."""

from __future__ import annotations

import os
import random
import threading
import time

import psutil
import pytest
import yaml

from jupyter_fsspec_proxy.testing.calls import KeepAlive, raw_connection
from jupyter_fsspec_proxy.testing.processes import PeakRSS, wait_until
from jupyter_fsspec_proxy.testing.sources import staged_uploads
from jupyter_fsspec_proxy.testing.standalone import intact, sealed, standalone

pytestmark = pytest.mark.slow

TOKEN = "load-token"
CLIENTS = 64
SECONDS = float(os.environ.get("FSSPEC_PROXY_LOAD_SECONDS", "60"))
SHARED = 4
AUTH = {"Authorization": f"token {TOKEN}"}


class Client(threading.Thread):
    def __init__(self, number: int, port: int, deadline: float, errors: list) -> None:
        super().__init__(daemon=True)
        self.number, self.port, self.deadline, self.errors = number, port, deadline, errors
        self.operations = 0
        self.bytes_checked = 0

    def expect(self, what: str, condition: bool) -> None:
        self.operations += 1
        if not condition and len(self.errors) < 20:
            self.errors.append(f"client {self.number}: {what}")

    def run(self) -> None:
        rng = random.Random(self.number)
        server = KeepAlive(self.port, AUTH)
        self.call = server.call
        source = ("Local", "Scratch")[self.number % 2]
        own = f"{source}/client-{self.number}.bin"
        while time.monotonic() < self.deadline:
            payload = rng.randbytes(rng.randrange(1, 256 * 1024))
            status, _ = self.call("PUT", f"files/{own}", payload)
            self.expect(f"write {status}", status == 201)
            status, body = self.call("GET", f"files/{own}")
            self.expect(f"read {status}", status == 200 and body == payload)
            start = rng.randrange(len(payload))
            headers = {"Range": f"bytes={start}-{start + 4095}"}
            status, body = self.call("GET", f"files/{own}", headers=headers)
            self.expect(f"range {status}", status == 206 and body == payload[start : start + 4096])
            self.bytes_checked += 2 * len(payload)
            shared = f"Local/shared-{rng.randrange(SHARED)}.bin"
            if rng.random() < 0.3:
                status, _ = self.call("PUT", f"files/{shared}", sealed(rng.randbytes(65536)))
                self.expect(f"shared write {status}", status == 201)
            status, body = self.call("GET", f"files/{shared}")
            self.expect(f"shared read {status}", status == 404 or (status == 200 and intact(body)))
            if rng.random() < 0.2:
                status, _ = self.call("DELETE", f"files/{own}")
                self.expect(f"delete {status}", status == 204)
                status, _ = self.call("GET", f"files/{own}")
                self.expect(f"deleted {status}", status == 404)
        server.connection.close()


def test_64_clients_lose_no_byte_and_leak_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    sources = [
        {"name": "Local", "path": str(tmp_path / "data")},
        {"name": "Scratch", "path": "memory://load"},
    ]
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        server = psutil.Process(proxy.process.pid)
        proxy.request("GET", "api/sources", headers=AUTH)  # warm up
        proxy.connection.close()
        time.sleep(0.5)
        fds_before = server.num_fds()
        errors: list[str] = []
        deadline = time.monotonic() + SECONDS
        clients = [Client(n, proxy.port, deadline, errors) for n in range(CLIENTS)]
        with PeakRSS(proxy.process.pid) as rss:
            for client in clients:
                client.start()
            for client in clients:
                client.join(SECONDS + 120)
        assert not any(client.is_alive() for client in clients)
        operations = sum(client.operations for client in clients)
        checked = sum(client.bytes_checked for client in clients)
        # the server closes the clients' connections as it sees them go
        wait_until(lambda: server.num_fds() <= fds_before + 2, "the server closes them", 60)
        fds_after = server.num_fds()
        print(
            f"{CLIENTS} clients, {SECONDS:.0f} s: {operations} checked operations, "
            f"{checked / 2**20:.0f} MiB compared, RSS +{rss.growth_mib:.1f} MiB, "
            f"fds {fds_before} -> {fds_after}"
        )
        assert errors == []
        assert operations > 1000
        assert rss.growth_mib < 128
        assert fds_after <= fds_before + 2
        assert staged_uploads(tmp_path / "data") == []


def test_a_client_leaving_mid_download_frees_the_server(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        big = tmp_path / "data" / "big.bin"
        with big.open("wb") as out:
            out.truncate(256 * 2**20)
        server = psutil.Process(proxy.process.pid)
        proxy.request("GET", "api")
        time.sleep(0.3)
        fds_before = server.num_fds()
        for _ in range(5):
            sock = raw_connection(proxy.port, "GET", "files/Local/big.bin", {})
            assert sock.recv(2**20).startswith(b"HTTP/1.1 200 OK")  # the download is under way
            sock.close()  # gone, 255 MiB unread
        wait_until(lambda: server.num_fds() <= fds_before + 1, "the downloads are let go", 60)
        response, body = proxy.request("GET", "files/Local/big.bin", headers={"Range": "bytes=0-9"})
        assert (response.status, body) == (206, b"\0" * 10)
