"""S3 on moto's server: reads through the proxy against s3fs reading moto directly."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import s3fs
import yaml
from clientbench import Side, ranges_req_s, read_mb_s, seconds
from httpbench import RANGE, offsets, upload_mb_s
from rounds import best_of_rounds, per_key
from servers import Server, free_port, running

from jupyter_fsspec_proxy.testing.processes import Peak, PeakRSS, folder_bytes

BUCKET = "bench"
CREDENTIALS = {"key": "benchmark-key", "secret": "benchmark-secret"}


@contextmanager
def moto(workdir: Path) -> Iterator[Server]:
    """moto's S3 server in its own process, so it does not share the client's GIL."""
    server = Server("moto", free_port(), "/")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(server.port)]
    with running(server, command, log=workdir / "moto.log"):
        yield server


def endpoint(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def source(server: Server) -> dict:
    """The proxy's config entry for the bucket."""
    kwargs = {**CREDENTIALS, "endpoint_url": endpoint(server)}
    return {"name": "S3", "path": f"s3://{BUCKET}", "kwargs": kwargs}


def storage_options(server: Server) -> dict:
    """s3fs's options for moto: what ``pd.read_parquet("s3://...")`` is given."""
    return {"endpoint_url": endpoint(server), **CREDENTIALS}


def direct_side(server: Server) -> Side:
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **storage_options(server))
    return Side(fs, f"{BUCKET}/")


def config_with_s3(workdir: Path, root: Path, server: Server) -> Path:
    """The proxy's config: the local folder ``root`` as "Bench", the bucket as "S3"."""
    config = workdir / "proxy.yaml"
    bench = {"name": "Bench", "path": str(root)}
    config.write_text(yaml.safe_dump({"sources": [bench, source(server)]}))
    return config


def fill(server: Server, data: bytes, *files: Path) -> None:
    """The bucket, with ``data`` as ``big.bin`` and a copy of each of ``files``."""
    side = direct_side(server)
    side.fs.mkdir(BUCKET)
    side.fs.pipe_file(side.path("big.bin"), data)
    for local in files:
        side.fs.put_file(str(local), side.path(local.name))


def ranges_s(side: Side, size: int, count: int) -> float:
    return count / ranges_req_s(side, size, count)


def cat_ranges_s(side: Side, size: int, count: int) -> float:
    """``count`` 4 KiB ranges in one ``cat_ranges`` call (s3fs gathers them concurrently)."""
    starts = offsets(count, size, 9)
    paths = [side.path("big.bin")] * count
    ends = [start + RANGE for start in starts]
    return seconds(lambda: side.fs.cat_ranges(paths, starts, ends))


def compare(proxied: Side, direct: Side, size: int, rounds: int, ranges: int) -> dict:
    """Best of ``rounds``, alternating; ratios are proxy time over direct time."""

    def figures(side: Side) -> dict[str, float]:
        return {
            "read": read_mb_s(side, size),
            "ranges": ranges_s(side, size, ranges),
            "batch": cat_ranges_s(side, size, 100),
        }

    best = best_of_rounds(
        rounds,
        {"proxy": lambda: figures(proxied), "direct": lambda: figures(direct)},
        per_key({"read": True, "ranges": False, "batch": False}),
    )
    read, small, batch = ({name: best[name][key] for name in best} for key in best["proxy"])
    return {
        "read_MB_s": read,
        "read_time_ratio": read["direct"] / read["proxy"],
        f"ranges_{ranges}_s": small,
        "ranges_time_ratio": small["proxy"] / small["direct"],
        "cat_ranges_100_s": batch,
        "cat_ranges_time_ratio": batch["proxy"] / batch["direct"],
    }


def upload(proxy: Server, direct: Side, source: Path, rounds: int) -> dict:
    """``source`` uploaded through the proxy (one streamed PUT) and with s3fs's
    ``put_file`` straight to moto, alternating; the proxy's peak memory growth and
    the peak bytes in its temporary folder while receiving (the highest of the rounds)."""
    spool = proxy.spool
    size_mib = source.stat().st_size / 2**20
    to_s3 = dataclasses.replace(proxy, files="/fsspec-proxy/files/S3/")

    def through_proxy() -> dict[str, float]:
        with PeakRSS(proxy.pid) as memory, Peak(lambda: folder_bytes(spool)) as staged:
            speed = upload_mb_s(to_s3, source, "uploaded.bin")
        return {"MB_s": speed, "rss": memory.growth_mib, "disk": staged.growth_mib}

    def straight() -> dict[str, float]:
        started = time.perf_counter()
        direct.fs.put_file(str(source), direct.path("direct.bin"))
        return {"MB_s": size_mib / (time.perf_counter() - started), "rss": 0.0, "disk": 0.0}

    best = best_of_rounds(
        rounds,
        {"proxy": through_proxy, "direct": straight},
        per_key({"MB_s": True, "rss": True, "disk": True}),
    )
    speed = {name: best[name]["MB_s"] for name in best}
    return {
        "upload_MB_s": speed,
        "upload_time_ratio": speed["direct"] / speed["proxy"],
        "upload_rss_MiB": best["proxy"]["rss"],
        "upload_disk_MiB": best["proxy"]["disk"],
    }
