"""Client-level measurements on CPython: ``fsspec-proxy-client`` against the proxy, and
fsspec's own ``HTTPFileSystem`` against the tornado baseline, through the same fsspec calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import fsspec
from fsspec_proxy_client import ProxyFileSystem
from httpbench import RANGE, MiB, offsets, spread_ranges
from servers import TOKEN, Server


class Side:
    """One filesystem and how it names the benchmark's files."""

    def __init__(self, fs: fsspec.AbstractFileSystem, prefix: str) -> None:
        self.fs, self.prefix = fs, prefix

    def path(self, name: str) -> str:
        return self.prefix + name


def proxy_side(server: Server) -> Side:
    url = f"http://127.0.0.1:{server.port}/fsspec-proxy/"
    return Side(ProxyFileSystem(endpoint_url=url, token=TOKEN, skip_instance_cache=True), "Bench/")


def http_side(server: Server) -> Side:
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    return Side(fs, f"http://127.0.0.1:{server.port}/")


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def read_mb_s(side: Side, size: int) -> float:
    return size / MiB / seconds(lambda: side.fs.cat_file(side.path("big.bin")))


def ranges_req_s(side: Side, size: int, count: int) -> float:
    path = side.path("big.bin")

    def loop() -> None:
        for offset in offsets(count, size, 42):
            assert len(side.fs.cat_file(path, start=offset, end=offset + RANGE)) == RANGE

    return count / seconds(loop)


def cat_ranges_ms(side: Side, count: int) -> float:
    ranges = spread_ranges(count)
    paths = [side.path(name) for name, _ in ranges]
    starts = [offset for _, offset in ranges]
    ends = [offset + RANGE for offset in starts]
    return 1000 * seconds(lambda: side.fs.cat_ranges(paths, starts, ends))


def cat_each_ms(side: Side, count: int) -> float:
    def loop() -> None:
        for name, offset in spread_ranges(count):
            side.fs.cat_file(side.path(name), start=offset, end=offset + RANGE)

    return 1000 * seconds(loop)


def ls_ms(side: Side, entries: int) -> float:
    listing: list = []
    elapsed = seconds(lambda: listing.extend(side.fs.ls(side.path("many"), detail=True)))
    assert len(listing) == entries, len(listing)
    return 1000 * elapsed


def put_mb_s(side: Side, source: Path, name: str) -> float:
    kwargs = {"method": "put"} if side.fs.protocol[0] == "http" else {}
    elapsed = seconds(lambda: side.fs.put_file(str(source), side.path(name), **kwargs))
    return source.stat().st_size / MiB / elapsed
