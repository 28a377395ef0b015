"""The tools people point at fsspec URLs, with ``storage_options`` exactly as their
docs show: pandas (CSV, Parquet through pyarrow), zarr v3, xarray, and polars."""

from __future__ import annotations

import fsspec
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr
import zarr

from jupyter_fsspec_proxy.testing.sources import SERVED_TOKEN


@pytest.fixture
def options(served) -> dict:
    return {"endpoint_url": served.url, "token": SERVED_TOKEN}


FRAME = pd.DataFrame({"a": range(1000), "b": [f"row {n}" for n in range(1000)]})


class CountingTransport:
    """Counts the body bytes a filesystem receives."""

    def __init__(self, inner) -> None:
        self.inner, self.received = inner, 0

    def request(self, *args, **kwargs):
        response = self.inner.request(*args, **kwargs)
        self.received += len(response.body)
        return response


@pytest.mark.parametrize("source", ["Local", "Memory"])
def test_pandas_csv_and_parquet_round_trip(options, source):
    FRAME.to_csv(f"proxy://{source}/frame.csv", index=False, storage_options=options)
    back = pd.read_csv(f"proxy://{source}/frame.csv", storage_options=options)
    pd.testing.assert_frame_equal(back, FRAME)
    FRAME.to_parquet(f"proxy://{source}/frame.parquet", storage_options=options)
    back = pd.read_parquet(f"proxy://{source}/frame.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, FRAME)


def test_one_column_of_a_parquet_file_reads_only_its_ranges(options):
    wide = pd.DataFrame({f"c{n}": np.arange(1 << 20, dtype="float64") * n for n in range(8)})
    fs = fsspec.filesystem("proxy", **options)  # the instance pandas gets for these options
    with fs.open("Local/wide.parquet", "wb") as out:
        pq.write_table(pa.Table.from_pandas(wide), out, row_group_size=1 << 18, compression=None)
    size = fs.info("Local/wide.parquet")["size"]
    assert pq.ParquetFile(fs.open("Local/wide.parquet")).num_row_groups == 4
    counting = fs.transport = CountingTransport(fs.transport)
    try:
        column = pd.read_parquet(
            "proxy://Local/wide.parquet", columns=["c3"], storage_options=options
        )
    finally:
        fs.transport = counting.inner
    assert column["c3"].tolist() == wide["c3"].tolist()
    # the column's four chunks and the footer: no read-ahead past each chunk
    assert counting.received < size / 6, (counting.received, size)


def test_zarr_v3_writes_reads_and_reads_part(options):
    group = zarr.open_group("proxy://Memory/cube.zarr", mode="w", storage_options=options)
    array = group.create_array("t", shape=(40, 40), chunks=(10, 10), dtype="int32")
    array[:] = np.arange(1600, dtype="int32").reshape(40, 40)
    array[5:15, 5:15] = -1  # a partial write across four chunks
    again = zarr.open_group("proxy://Memory/cube.zarr", mode="r", storage_options=options)
    expected = np.arange(1600, dtype="int32").reshape(40, 40)
    expected[5:15, 5:15] = -1
    np.testing.assert_array_equal(again["t"][:], expected)
    np.testing.assert_array_equal(again["t"][12:18, 30:33], expected[12:18, 30:33])
    fs = fsspec.filesystem("proxy", **options)
    assert fs.exists("Memory/cube.zarr/t/zarr.json")


def test_xarray_open_zarr(options):
    temperature = xr.DataArray(
        np.linspace(0, 1, 24).reshape(4, 6), dims=("y", "x"), name="temperature"
    )
    dataset = temperature.to_dataset()
    dataset.to_zarr("proxy://Local/ds.zarr", mode="w", storage_options=options)
    opened = xr.open_zarr("proxy://Local/ds.zarr", storage_options=options)
    xr.testing.assert_allclose(opened.load(), dataset)


def test_raw_file_urls_read_with_a_token_header(served, options):
    """The proxy's ``files/`` URLs are plain HTTP with ranges: pandas' own HTTP
    reader and fsspec's ``HTTPFileSystem`` (for pandas and pyarrow) read them."""
    FRAME.to_csv("proxy://Local/raw.csv", index=False, storage_options=options)
    FRAME.to_parquet("proxy://Local/raw.parquet", storage_options=options)
    header = {"Authorization": f"token {SERVED_TOKEN}"}
    base = f"{served.url}files/Local"
    pd.testing.assert_frame_equal(pd.read_csv(f"{base}/raw.csv", storage_options=header), FRAME)
    http = fsspec.filesystem("http", headers=header, skip_instance_cache=True)
    back = pd.read_parquet(f"{base}/raw.parquet", filesystem=http)
    pd.testing.assert_frame_equal(back, FRAME)
    table = pq.read_table(f"{base}/raw.parquet", filesystem=http, columns=["b"])
    assert table.column("b").to_pylist() == FRAME["b"].tolist()


def test_url_is_the_older_name_of_endpoint_url(served):
    """fsspec makes ``url`` of FSSPEC_PROXY_URL, which deployments already set."""
    fs = fsspec.filesystem("proxy", url=served.url, token=SERVED_TOKEN)
    assert fs.endpoint_url == served.url
    assert "Memory" in fs.ls("", detail=False)


def test_polars_reads_through_a_file_object_pyarrow_or_a_signed_url(options):
    """polars sends ``storage_options`` to its own object store, not to fsspec, so a
    ``proxy://`` path needs one of the three ways docs/client.md shows."""
    fs = fsspec.filesystem("proxy", **options)
    FRAME.to_parquet("proxy://Local/polars.parquet", storage_options=options)
    with fs.open("Local/polars.parquet") as f:
        assert pl.read_parquet(f).to_pandas().equals(FRAME)
    back = pl.read_parquet(
        "proxy://Local/polars.parquet", storage_options=options, use_pyarrow=True
    )
    assert back.to_pandas().equals(FRAME)
    url = fs.sign("Local/polars.parquet", expiration=60)  # no token in it: a short-lived key
    lazy = pl.scan_parquet(url).filter(pl.col("a") >= 990).collect()
    assert lazy["a"].to_list() == list(range(990, 1000))
    with pytest.raises(FileNotFoundError):  # what a newcomer tries first
        pl.read_parquet("proxy://Local/polars.parquet", storage_options=options)
