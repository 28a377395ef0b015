"""``pd.read_parquet`` through the proxy against the same file on local disk.

    python benchmarks/parquet.py [--rounds 5]    # alone: starts its own proxy

Also part of ``benchmarks/suite.py``. The file: 8 float64 columns of 2**20 rows in
4 row groups (64 MiB, uncompressed); read whole, and one column of it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import servers

NAME = "wide.parquet"


def write(root: Path) -> Path:
    frame = pd.DataFrame({f"c{n}": np.arange(1 << 20, dtype="float64") * n for n in range(8)})
    path = root / NAME
    frame.to_parquet(path, row_group_size=1 << 18, compression=None)
    return path


def measure(proxy: servers.Server, local: Path, rounds: int) -> dict[str, float]:
    """Best seconds of each way, alternating, and the ratios local / proxy."""
    options = {
        "endpoint_url": f"http://127.0.0.1:{proxy.port}/fsspec-proxy/",
        "token": servers.TOKEN,
    }
    ways = {
        "whole_local_s": lambda: pd.read_parquet(local),
        "whole_proxy_s": lambda: pd.read_parquet(f"proxy://Bench/{NAME}", storage_options=options),
        "column_local_s": lambda: pd.read_parquet(local, columns=["c3"]),
        "column_proxy_s": lambda: pd.read_parquet(
            f"proxy://Bench/{NAME}", columns=["c3"], storage_options=options
        ),
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds + 1):  # the first round warms up
        for key, read in ways.items():
            started = time.perf_counter()
            read()
            best[key] = min(best[key], time.perf_counter() - started)
    return {
        **{key: round(value, 4) for key, value in best.items()},
        "whole_ratio": round(best["whole_local_s"] / best["whole_proxy_s"], 2),
        "column_ratio": round(best["column_local_s"] / best["column_proxy_s"], 2),
    }


def describe(result: dict[str, float]) -> str:
    return (
        f"read_parquet, 64 MiB, local disk vs proxy: whole {result['whole_local_s']:.3f} s vs "
        f"{result['whole_proxy_s']:.3f} s ({result['whole_ratio']:.2f}x), one column "
        f"{result['column_local_s']:.3f} s vs {result['column_proxy_s']:.3f} s "
        f"({result['column_ratio']:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root, config = servers.bench_source(workdir)
        local = write(root)
        with servers.proxy(config, workdir) as proxy:
            print(describe(measure(proxy, local, args.rounds)))


if __name__ == "__main__":
    main()
