"""nginx load-balancing standalone replicas, from the configuration in the docs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import DOCS
from .processes import wait_for_port

DOCUMENTED = DOCS / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REPLICA = re.compile(r"^(\s*)server 127\.0\.0\.1:8001(.*)$", re.MULTILINE)


def access_log(listen: int, workdir: Path) -> Path:
    return workdir / f"nginx-{listen}-access.log"


def render(listen: int, replicas: list[int], workdir: Path, documented: Path = DOCUMENTED) -> str:
    """A documented configuration, on these ports, with its files under ``workdir``."""
    text = documented.read_text()
    text = re.sub(r"^\s*server 127\.0\.0\.1:8002.*\n", "", text, flags=re.MULTILINE)
    text = REPLICA.sub(
        lambda m: "\n".join(f"{m[1]}server 127.0.0.1:{port}{m[2]}" for port in replicas), text
    )
    text = re.sub(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen};", text)
    text = re.sub(
        r"access_log /var/log/nginx/\S+", f"access_log {access_log(listen, workdir)}", text
    )
    temp = "".join(
        f"    {kind}_temp_path {workdir}/nginx-{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return text.replace("http {\n", "http {\n" + temp, 1)


@contextmanager
def balancer(
    listen: int, replicas: list[int], workdir: Path, documented: Path = DOCUMENTED
) -> Iterator[Path]:
    """Run nginx on ``listen`` in front of ``replicas``, configured as ``documented``
    says; yields its access log."""
    name = f"nginx-{listen}"
    config = workdir / f"{name}.conf"
    config.write_text(render(listen, replicas, workdir, documented))
    user = "user root; " if os.geteuid() == 0 else ""  # else workers drop to nobody
    directives = f"daemon off; {user}pid {workdir}/{name}.pid; error_log {workdir}/{name}.err;"
    command = [NGINX, "-c", str(config), "-p", str(workdir), "-g", directives]
    process = subprocess.Popen(command)
    try:
        wait_for_port(listen, process, "nginx", timeout=20)
        yield access_log(listen, workdir)
    finally:
        process.terminate()
        process.wait(timeout=10)


def requests_by_line(access_log: Path) -> list[list[str]]:
    """For each logged request, the replicas nginx tried, in order."""
    return [
        [part.strip() for part in tried.split(",")]
        for line in access_log.read_text().splitlines()
        for tried in re.findall(r"upstream=(.+) [\d.]+$", line)
    ]


def served_by(access_log: Path) -> Counter:
    """How many requests each replica was asked to answer."""
    return Counter(replica for tried in requests_by_line(access_log) for replica in tried)
