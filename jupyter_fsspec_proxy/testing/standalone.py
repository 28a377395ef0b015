"""``jupyter fsspec-proxy`` as a real subprocess, and a keep-alive connection to it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from .calls import KeepAlive
from .processes import free_port, wait_for_port


class Proxy(KeepAlive):
    """A running standalone proxy and a keep-alive connection to it."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        super().__init__(port)
        self.process, self.log = process, log

    @property
    def url(self) -> str:
        """The proxy's address, as a client's ``endpoint_url``."""
        return f"http://127.0.0.1:{self.port}/fsspec-proxy/"


@contextmanager
def standalone(
    tmp_path: Path,
    *args: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    config: Path | None = None,
) -> Iterator[Proxy]:
    """``python -m jupyter_fsspec_proxy *args`` serving ``config``: by default
    ``tmp_path/proxy.yaml``, written if missing with one source, "Local" (``tmp_path/data``)."""
    port = port or free_port()
    if config is None:
        config = tmp_path / "proxy.yaml"
        if not config.exists():
            local = tmp_path / "data"
            local.mkdir(exist_ok=True)
            config.write_text(yaml.safe_dump({"sources": [{"name": "Local", "path": str(local)}]}))
    log = tmp_path / f"server-{port}-{len(list(tmp_path.glob('server-*.log')))}.log"
    env = {
        **os.environ,
        "FSSPEC_PROXY_CONFIG": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        **(env or {}),
    }
    command = [sys.executable, "-m", "jupyter_fsspec_proxy", *args, f"--port={port}"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            wait_for_port(port, process, "the standalone proxy", timeout=60)
        except RuntimeError as error:
            pytest.fail(f"{error}: {log.read_text()}")
        yield Proxy(process, port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"the standalone proxy did not stop within 60 s of SIGTERM: {log}")


def sealed(payload: bytes) -> bytes:
    """A body that proves its own integrity: sha256 of the rest, then the rest."""
    return hashlib.sha256(payload).digest() + payload


def intact(body: bytes) -> bool:
    return hashlib.sha256(body[32:]).digest() == body[:32]
