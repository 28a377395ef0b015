"""The servers under test, each a separate process on 127.0.0.1 serving one data directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from jupyter_fsspec_proxy.testing.processes import free_port, stop, wait_for_port
from jupyter_fsspec_proxy.testing.standalone import standalone

HERE = Path(__file__).parent

TOKEN = "benchmark-token"
PROTOTYPE = "fsspec-proxy==0.1.2"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Server:
    """How to reach one server's copy of the data directory over HTTP."""

    name: str
    port: int
    files: str  # URL prefix of a data-relative path
    listing: str | None = None  # URL listing the directory ``many/``
    upload_method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    spool: Path | None = None  # the proxy's temporary folder

    def url(self, path: str) -> str:
        return self.files + path


@contextmanager
def running(server: Server, command: list[str], env: dict | None = None, log: Path | None = None):
    """Start ``command``, wait until ``server.port`` accepts, stop it afterwards."""
    out = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server.pid = process.pid
    try:
        try:
            wait_for_port(server.port, process, server.name)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log.read_text() if log else ''}") from None
        yield server
    finally:
        stop(process)


def bench_source(workdir: Path) -> tuple[Path, Path]:
    """A data folder in ``workdir`` and a config that serves it as the source "Bench"."""
    root = workdir / "data"
    root.mkdir()
    config = workdir / "proxy.yaml"
    config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": str(root)}]}))
    return root, config


@contextmanager
def proxy(config: Path, workdir: Path, *options: str) -> Iterator[Server]:
    """This project's standalone proxy, in ``run`` mode with token auth, as deployed."""
    server = Server(
        "jupyter-fsspec-proxy",
        free_port(),
        "/fsspec-proxy/files/Bench/",
        "/fsspec-proxy/api/ls/Bench/many",
        headers={"Authorization": f"token {TOKEN}"},
    )
    options = (f"--IdentityProvider.token={TOKEN}", "--ServerApp.log_level=WARN", *options)
    spool = server.spool = workdir / f"proxy-{server.port}-tmp"
    spool.mkdir()
    env = {"TMPDIR": str(spool)}
    with standalone(workdir, "run", *options, port=server.port, env=env, config=config) as running:
        server.pid = running.process.pid
        yield server


def prototype_venv(where: Path) -> Path:
    """A virtual environment holding the prototype from PyPI (made once, then reused)."""
    python = where / "bin" / "python"
    if not (where / "bin" / "fsspec-proxy").exists():
        print(f"installing {PROTOTYPE} into {where} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", PROTOTYPE]
        subprocess.run(pip, check=True)
    return where


@contextmanager
def prototype(venv: Path, root: Path, workdir: Path) -> Iterator[Server]:
    """The prototype (FastAPI), configured in its own YAML format, in ``run`` mode."""
    server = Server(
        "prototype 0.1.2", free_port(), "/Bench/bytes/", "/Bench/list/many", upload_method="POST"
    )
    config = workdir / "prototype.yaml"
    config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": f"file://{root}"}]}))
    command = [
        *(str(venv / "bin" / "fsspec-proxy"), "run"),
        *("--host", "127.0.0.1", "--port", str(server.port)),
    ]
    env = {**os.environ, "FSSPEC_PROXY_CONFIG": str(config), "PATH": f"{venv}/bin:/usr/bin:/bin"}
    with running(server, command, env, workdir / "prototype.log"):
        yield server


@contextmanager
def tornado_static(root: Path) -> Iterator[Server]:
    """The baseline: tornado's StaticFileHandler, plus a listing and a streamed PUT."""
    server = Server("tornado static", free_port(), "/", "/_list/many")
    command = [sys.executable, str(HERE / "static_server.py"), str(root), str(server.port)]
    with running(server, command):
        yield server


NGINX_STATIC = """
{user}
worker_processes 1;
pid {workdir}/nginx-static.pid;
error_log {workdir}/nginx-static.error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 0;
        dav_methods PUT;
        autoindex on;
        autoindex_format json;
    }}
}}
"""


def nginx_user() -> str:
    """As root, nginx's workers would drop to ``nobody``, who cannot read private temp dirs."""
    return "user root;" if os.geteuid() == 0 else ""


@contextmanager
def nginx_static(root: Path, workdir: Path) -> Iterator[Server]:
    """nginx from Debian, one worker with sendfile: the upper reference."""
    server = Server("nginx (reference)", free_port(), "/", "/many/")
    config = workdir / "nginx-static.conf"
    config.write_text(
        NGINX_STATIC.format(user=nginx_user(), workdir=workdir, port=server.port, root=root)
    )
    command = [NGINX, "-c", str(config), "-p", str(workdir), "-g", "daemon off;"]
    with running(server, command, log=workdir / "nginx-static.log"):
        yield server


def have_nginx() -> bool:
    return Path(NGINX).exists()


def save(name: str, report: dict) -> None:
    """Write ``benchmarks/results/<name>.json`` and say where."""
    out = HERE / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"saved {out}")
