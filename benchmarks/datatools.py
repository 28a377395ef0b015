"""Data tools through the proxy against the same data without it, time over time.

    python benchmarks/datatools.py [--rounds 5]    # alone: starts its own proxy and moto

Also part of ``benchmarks/suite.py``. The data: a Parquet file of 8 float64 columns
of 2**20 rows in 4 row groups (64 MiB, uncompressed) and a zarr v3 store of 16 MiB
in 32 chunks. Local source, ratio to local disk: ``pd.read_parquet`` whole and one
column, a pyarrow dataset with a filter (one row group of four), ``dd.read_parquet``
of one column, ``xr.open_zarr(...).load()``. S3 source on moto, ratio to s3fs
reading moto directly: ``pd.read_parquet`` whole and one column.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import s3bench
import servers
import xarray as xr
from fsspec_proxy_client import ProxyFileSystem
from rounds import best_of_rounds

NAME = "wide.parquet"
ZARR = "cube.zarr"
ROWS = 1 << 20
GROUP = 1 << 18
COLUMN = ["c3"]


def write(root: Path) -> Path:
    frame = pd.DataFrame({f"c{n}": np.arange(ROWS, dtype="float64") * n for n in range(8)})
    path = root / NAME
    frame.to_parquet(path, row_group_size=GROUP, compression=None)
    return path


def write_zarr(root: Path) -> Path:
    values = np.random.default_rng(1).random((64, 256, 256), dtype="float32")
    cube = xr.Dataset({"t": (("time", "y", "x"), values)})
    cube.to_zarr(root / ZARR, encoding={"t": {"chunks": (2, 256, 256)}}, mode="w")
    return root / ZARR


def options(proxy: servers.Server) -> dict[str, str]:
    return {"endpoint_url": f"http://127.0.0.1:{proxy.port}/fsspec-proxy/", "token": servers.TOKEN}


def first_read(opts: dict[str, str], read: Callable[[], object]) -> Callable[[], object]:
    """``read`` as a first read of its file: the client's filesystem (fsspec keeps one
    per set of options) forgets what it knew of files, as ``invalidate_cache`` does."""

    def action() -> object:
        ProxyFileSystem(**opts).invalidate_cache()
        return read()

    return action


def seconds(action: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    return timed


def filtered(source: str, filesystem) -> Callable[[], object]:
    """A pyarrow dataset with a filter that the row groups' statistics answer."""
    return lambda: ds.dataset(source, filesystem=filesystem, format="parquet").to_table(
        filter=ds.field("c1") < GROUP
    )


def compared(rounds: int, pairs: dict[str, tuple[Callable, Callable]]) -> dict:
    """Each pair (baseline, through the proxy) alternated with all others; the best
    seconds of each, and the ratio baseline / proxy (1 is as fast, higher is better)."""
    ways = {}
    for name, (base, proxied) in pairs.items():
        ways[f"{name}_base_s"] = seconds(base)
        ways[f"{name}_proxy_s"] = seconds(proxied)
    best = best_of_rounds(rounds + 1, ways, min)  # the first round warms up too
    result = {key: round(value, 4) for key, value in best.items()}
    for name in pairs:
        result[f"{name}_ratio"] = round(best[f"{name}_base_s"] / best[f"{name}_proxy_s"], 3)
    return result


def measure(proxy: servers.Server, root: Path, rounds: int) -> dict:
    """The local source against local disk; ``root`` holds :func:`write`'s and
    :func:`write_zarr`'s data."""
    opts = options(proxy)
    local, url = root / NAME, f"proxy://Bench/{NAME}"
    pairs = {
        "whole": (
            lambda: pd.read_parquet(local),
            lambda: pd.read_parquet(url, storage_options=opts),
        ),
        "column": (
            lambda: pd.read_parquet(local, columns=COLUMN),
            lambda: pd.read_parquet(url, columns=COLUMN, storage_options=opts),
        ),
        "dataset_filter": (
            filtered(str(local), None),
            filtered(f"Bench/{NAME}", ProxyFileSystem(**opts)),
        ),
        "dask": (
            lambda: dd.read_parquet(local, columns=COLUMN).compute(),
            lambda: dd.read_parquet(url, columns=COLUMN, storage_options=opts).compute(),
        ),
        "zarr": (
            lambda: xr.open_zarr(root / ZARR).load(),
            lambda: xr.open_zarr(f"proxy://Bench/{ZARR}", storage_options=opts).load(),
        ),
    }
    return compared(rounds, as_first_reads(opts, pairs))


def as_first_reads(opts: dict[str, str], pairs: dict[str, tuple]) -> dict[str, tuple]:
    return {name: (base, first_read(opts, proxied)) for name, (base, proxied) in pairs.items()}


def measure_s3(proxy: servers.Server, s3_options: dict, bucket: str, rounds: int) -> dict:
    """The proxy's S3 source against s3fs on the same moto; the file is in ``bucket``."""
    opts, url, direct = options(proxy), f"proxy://S3/{NAME}", f"s3://{bucket}/{NAME}"
    pairs = {
        "s3_whole": (
            lambda: pd.read_parquet(direct, storage_options=s3_options),
            lambda: pd.read_parquet(url, storage_options=opts),
        ),
        "s3_column": (
            lambda: pd.read_parquet(direct, columns=COLUMN, storage_options=s3_options),
            lambda: pd.read_parquet(url, columns=COLUMN, storage_options=opts),
        ),
    }
    return compared(rounds, as_first_reads(opts, pairs))


LABELS = {
    "whole": "read_parquet, 64 MiB whole",
    "column": "read_parquet, one column",
    "dataset_filter": "pyarrow dataset with a filter",
    "dask": "dask read_parquet, one column",
    "zarr": "xarray open_zarr().load()",
    "s3_whole": "S3: read_parquet whole",
    "s3_column": "S3: read_parquet one column",
}


def describe(result: dict) -> str:
    """One line per tool: baseline and proxy seconds, ratio (baseline / proxy)."""
    lines = ["Data tools (baseline: local disk; for S3, s3fs direct to moto):"]
    for name, label in LABELS.items():
        if f"{name}_ratio" in result:
            lines.append(
                f"  {label:<34} {result[f'{name}_base_s']:.4f} s vs proxy "
                f"{result[f'{name}_proxy_s']:.4f} s ({result[f'{name}_ratio']:.2f}x)"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root = workdir / "data"
        root.mkdir()
        write(root)
        write_zarr(root)
        with s3bench.moto(workdir) as moto:
            s3bench.fill(moto, b"", root / NAME)
            config = s3bench.config_with_s3(workdir, root, moto)
            with servers.proxy(config, workdir) as proxy:
                result = measure(proxy, root, args.rounds)
                s3_options = s3bench.storage_options(moto)
                result |= measure_s3(proxy, s3_options, s3bench.BUCKET, args.rounds)
    print(describe(result))


if __name__ == "__main__":
    main()
