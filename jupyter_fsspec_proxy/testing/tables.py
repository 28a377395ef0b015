"""The big Parquet file of the preview tests and benchmarks (about 64 MiB)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROWS, GROUPS = 2_400_000, 8
# One codec per column: all three that Parquet writers use most.
CODECS = {"n": "zstd", "x": "gzip", "label": "zstd", "when": "snappy", "maybe": "snappy"}


def big_table() -> pa.Table:
    """An int, a float, a string, a timestamp and a float with nulls; random floats
    and digits, so that the file stays about as big as its data."""
    rng = np.random.default_rng(7)
    n = pa.array(np.arange(ROWS, dtype=np.int64))
    digits = pc.cast(pa.array(rng.integers(0, 2**40, ROWS)), pa.string())
    start = np.datetime64("2024-01-01T00:00:00", "us")
    return pa.table(
        {
            "n": n,
            "x": rng.random(ROWS),
            "label": pc.binary_join_element_wise("row", pc.cast(n, pa.string()), digits, " "),
            "when": pa.array(start + np.arange(ROWS).astype("timedelta64[s]")),
            "maybe": pa.array(np.arange(ROWS, dtype=float), mask=np.arange(ROWS) % 3 == 0),
        }
    )
