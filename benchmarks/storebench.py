"""Every store through the proxy against the store's own fsspec filesystem on the same
emulator, in one run: a 256 MiB read and upload, and 200 random 4 KiB ranges; the
proxy's peak memory and temporary-disk growth while it receives the upload.

    python benchmarks/storebench.py [--size-mib 256] [--ranges 200] [STORE ...]

Prints one JSON line per store; ratios are proxy time over direct time (1.0: as fast).
The emulators and the proxy are the tests' own (jupyter_fsspec_proxy/testing/stores.py),
on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from clientbench import Side, seconds
from httpbench import RANGE, MiB, offsets

from jupyter_fsspec_proxy.testing.processes import Peak, PeakRSS, folder_bytes
from jupyter_fsspec_proxy.testing.sources import moto_s3
from jupyter_fsspec_proxy.testing.stores import (
    make_store,
    run_azure_connection,
    run_gcs_endpoint,
    run_nginx_server,
    run_sshd,
    run_webdav_url,
    serving,
)

STORES = ("S3", "GCS", "Azure", "SFTP", "WebDAV", "HTTP")
#: The tests' session servers by fixture name, as context managers of a folder.
RUNNERS = {
    "gcs_endpoint": run_gcs_endpoint,
    "azure_connection": run_azure_connection,
    "sshd": run_sshd,
    "webdav_url": run_webdav_url,
    "nginx_server": run_nginx_server,
}


class Servers:
    """The tests' session servers, started on first use (what pytest's request does)."""

    def __init__(self, stack: ExitStack, home: Path) -> None:
        self.stack, self.home, self.started = stack, home, {}

    def getfixturevalue(self, name: str) -> Any:
        if name not in self.started:
            folder = Path(tempfile.mkdtemp(prefix=name, dir=self.home))
            running = moto_s3() if name == "s3_endpoint" else RUNNERS[name](folder)
            self.started[name] = self.stack.enter_context(running)
        return self.started[name]


def ranges_s(side: Side, size: int, count: int, by_file: bool) -> float:
    """``count`` random 4 KiB ranges, each a ``cat_file`` (``by_file``: an open, seek
    and read, for sshfs, whose ``cat_file`` ignores ranges)."""
    path = side.path("big.bin")

    def cat(offset: int) -> bytes:
        if not by_file:
            return side.fs.cat_file(path, start=offset, end=offset + RANGE)
        with side.fs.open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(RANGE)

    def loop() -> None:
        for offset in offsets(count, size, 7):
            assert len(cat(offset)) == RANGE

    return seconds(loop)


def measure(name: str, servers: Servers, home: Path, source: Path, count: int) -> dict:
    store = make_store(name, servers)
    size = source.stat().st_size
    own, root = store.behind_the_back()
    own.makedirs(f"{root}/w", exist_ok=True)
    spool = home / f"{name}-tmp"
    spool.mkdir()
    workdir = home / f"{name}-proxy"
    workdir.mkdir()
    with serving(store, workdir, [store.source("W", "w")], {"TMPDIR": str(spool)}) as srv:
        proxied = Side(srv.fs, "W/")
        direct = Side(store.own(), f"{store.path('w')}/")
        result: dict[str, Any] = {"store": name, "size_MiB": size // MiB}
        if store.writable:
            with PeakRSS(srv.proxy.process.pid) as rss, Peak(lambda: folder_bytes(spool)) as disk:
                up_proxy = seconds(lambda: proxied.fs.put_file(str(source), "W/big.bin"))
            up_direct = seconds(lambda: direct.fs.put_file(str(source), direct.path("direct.bin")))
            result["upload_s"] = {"proxy": up_proxy, "direct": up_direct}
            result["upload_ratio"] = up_proxy / up_direct
            result["upload_rss_MiB"], result["upload_tmp_MiB"] = rss.growth_mib, disk.growth_mib
        else:
            writer, area = store.behind_the_back()
            writer.put_file(str(source), f"{area}/w/big.bin")
        sides = {"proxy": proxied, "direct": direct}
        read = {key: seconds(lambda s=side: s.fs.cat_file(s.path("big.bin")))
                for key, side in sides.items()}  # fmt: skip
        small = {
            key: ranges_s(side, size, count, by_file=key == "direct" and name == "SFTP")
            for key, side in sides.items()
        }
        result["read_s"], result["read_ratio"] = read, read["proxy"] / read["direct"]
        result[f"ranges_{count}_s"] = small
        result["ranges_ratio"] = small["proxy"] / small["direct"]
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--ranges", type=int, default=200)
    parser.add_argument("stores", nargs="*", default=list(STORES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        home = Path(tmp)
        source = home / "big.bin"
        with source.open("wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(MiB))
        servers = Servers(stack, home)
        for name in args.stores:
            started = time.perf_counter()
            result = measure(name, servers, home, source, args.ranges)
            result["took_s"] = time.perf_counter() - started
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
