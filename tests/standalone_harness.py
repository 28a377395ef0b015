"""``jupyter fsspec-proxy`` as a real subprocess, and a keep-alive connection to it."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import free_port


class Proxy:
    """A running standalone proxy and a keep-alive connection to it."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body=None, headers=None):
        self.connection.request(method, f"/fsspec-proxy/{path}", body=body, headers=headers or {})
        response = self.connection.getresponse()
        return response, response.read()


@contextmanager
def standalone(tmp_path: Path, *args: str, port: int | None = None) -> Iterator[Proxy]:
    port = port or free_port()
    config = tmp_path / "proxy.yaml"
    if not config.exists():
        local = tmp_path / "data"
        local.mkdir(exist_ok=True)
        config.write_text(yaml.safe_dump({"sources": [{"name": "Local", "path": str(local)}]}))
    log = tmp_path / f"server-{port}-{len(list(tmp_path.glob('server-*.log')))}.log"
    env = {**os.environ, "FSSPEC_PROXY_CONFIG": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "jupyter_fsspec_proxy", *args, f"--port={port}"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited: {log.read_text()}")
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                time.sleep(0.1)
        yield Proxy(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


class PeakRSS:
    """Samples a process's resident memory in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20
