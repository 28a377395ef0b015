"""Replicas of ``jupyter fsspec-proxy hub`` behind nginx, registered with a real hub as
one externally managed service: the hub's config, nginx's and the replicas' command
are the documented ones (docs/deploy/, docs/scale-out.md), with this machine's ports
and paths."""

from __future__ import annotations

import os
import random
import re
import secrets
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from fsspec_proxy_client import ProxyFileSystem

from . import DOCS
from .balancer import balancer
from .hub import External, Hub, jupyterhub
from .processes import free_port, stop, wait_for_port
from .standalone import sealed

HUB_CONFIG = DOCS / "deploy" / "jupyterhub_config_replicas.py"
NGINX_CONFIG = DOCS / "deploy" / "nginx-hub.conf"
MANIFESTS = DOCS / "deploy" / "kubernetes" / "fsspec-proxy.yaml"
SECRETS = "/etc/fsspec-proxy/"  # where the documented command finds its files
DOCUMENTED_API_URL = "http://127.0.0.1:8081/hub/api"


def documented_start() -> tuple[list[str], str]:
    """The ``export`` lines and the replica command of docs/scale-out.md's block
    that starts the hub service's replicas (``$port`` is each one's port)."""
    blocks = re.findall(r"```bash\n(.*?)```", (DOCS / "scale-out.md").read_text(), re.S)
    [block] = [b for b in blocks if "jupyter fsspec-proxy hub" in b]
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    exports = [line for line in lines if line.startswith("export ")]
    [command] = [line for line in lines if line.startswith("jupyter fsspec-proxy hub")]
    return exports, command.removesuffix("&").strip()


@dataclass
class Replica:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        """The proxy at this replica's own address, bypassing nginx and the hub."""
        return f"http://127.0.0.1:{self.port}/services/fsspec-proxy/fsspec-proxy/"


@contextmanager
def replica(workdir: Path, api_url: str, port: int, options: list[str]) -> Iterator[Replica]:
    """One replica, started by the documented lines, with ``options`` added."""
    exports, command = documented_start()
    script = "\n".join([*exports, f"port={port}", f"exec {command} {shlex.join(options)}"]).replace(
        SECRETS, f"{workdir}/"
    )
    script = script.replace(DOCUMENTED_API_URL, api_url)
    log = workdir / f"replica-{port}.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(workdir / f"runtime-{port}")}
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        try:
            wait_for_port(port, process, f"the replica on {port}", timeout=60)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log.read_text()[-3000:]}") from None
        yield Replica(port, process, log)
    finally:
        if process.poll() is None:
            stop(process)


def write_secrets(workdir: Path, sources: list[dict]) -> str:
    """The files every replica shares (the service's token, the cookie secret, the
    signing key, the config); returns the token."""
    token = secrets.token_hex(32)
    (workdir / "hub_token").write_text(token)
    (workdir / "cookie_secret").write_text(secrets.token_hex(32))
    (workdir / "signing_key").write_text(secrets.token_urlsafe(32))
    (workdir / "config.yaml").write_text(yaml.safe_dump({"sources": sources}))
    return token


@dataclass
class Deployment:
    hub: Hub
    replicas: list[Replica]
    access_log: Path  # nginx's, naming the replica of each request


@contextmanager
def deployment(
    workdir: Path,
    sources: list[dict],
    users: dict[str, list[str]],
    options: list[str] = (),
    count: int = 2,
) -> Iterator[Deployment]:
    """A hub, ``count`` replicas of its service and nginx in front of them."""
    token = write_secrets(workdir, sources)
    listen = free_port()
    external = External(HUB_CONFIG, listen, {"FSSPEC_PROXY_SERVICE_TOKEN": token})
    home = workdir / "hub"
    home.mkdir()
    with (
        jupyterhub(home, workdir / "config.yaml", users, [], external=external) as hub,
        ExitStack() as stack,
    ):
        ports = [free_port() for _ in range(count)]
        started = [
            stack.enter_context(replica(workdir, hub.api_url, p, list(options))) for p in ports
        ]
        access_log = stack.enter_context(balancer(listen, ports, workdir, NGINX_CONFIG))
        hub.wait_for_service()
        yield Deployment(hub, started, access_log)


class Load(threading.Thread):
    """Through ``url``, with the client: 4 KiB range reads of ``source``/big.bin (even
    numbers), or self-checking writes of files of its own (odd), until told to stop;
    what fails or comes back wrong is lost."""

    def __init__(
        self, number: int, url: str, token: str, big: bytes, stop: threading.Event, source: str
    ) -> None:
        super().__init__(daemon=True)
        self.number, self.big, self.stop, self.source = number, big, stop, source
        self.fs = ProxyFileSystem(endpoint_url=url, token=token, skip_instance_cache=True)
        self.done: list[float] = []
        self.lost: list[str] = []
        self.written: dict[str, bytes] = {}

    def run(self) -> None:
        rng = random.Random(self.number)
        count = 0
        while not self.stop.is_set():
            count += 1
            try:
                if self.number % 2:
                    path = f"{self.source}/load-{self.number}-{count % 5}.bin"
                    # 4 KiB, which nginx holds and may send again itself, and 2 MiB,
                    # which it streams: if the replica dies, the client sends it again.
                    data = sealed(rng.randbytes(2**21 if self.number == 1 else 4096))
                    self.fs.pipe_file(path, data)
                    self.written[path] = data
                else:
                    start = rng.randrange(len(self.big) - 4096)
                    if (
                        self.fs.cat_file(f"{self.source}/big.bin", start, start + 4096)
                        != self.big[start : start + 4096]
                    ):
                        self.lost.append(f"wrong bytes at {start}")
            except Exception as error:
                self.lost.append(repr(error))
            self.done.append(time.monotonic())
