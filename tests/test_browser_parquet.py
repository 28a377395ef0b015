"""The app's Parquet preview, in headless Chromium, offline, against the standalone
proxy in dev and run mode: the schema, row groups and first rows of a 64 MiB file
read by byte ranges, paging, other types and codecs, and the one-line message for
files that are not (whole) Parquet."""

from __future__ import annotations

import asyncio
import datetime
import html
import json
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from jupyter_fsspec_proxy.testing import CHECKOUT
from jupyter_fsspec_proxy.testing.browser import chromium, offline_folder
from jupyter_fsspec_proxy.testing.standalone import standalone
from jupyter_fsspec_proxy.testing.tables import CODECS, GROUPS, ROWS, big_table

pytestmark = pytest.mark.browser

ARTIFACTS = CHECKOUT / "test-artifacts"
TOKEN = "parquet-app-token"
BIG = "Local/big.parquet"


def types_table() -> pa.Table:
    day = datetime.date(2024, 1, 2)
    at = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    point = pa.struct([("a", pa.int64()), ("b", pa.string())])
    return pa.table(
        {
            "flag": pa.array([True, False, None]),
            "small": pa.array([1, 2, 3], pa.int32()),
            "ratio": pa.array([2.0, 0.5, None], pa.float32()),
            "day": pa.array([day, day, None], pa.date32()),
            "price": pa.array([Decimal("1.20"), Decimal("3"), None], pa.decimal128(10, 2)),
            "at": pa.array([at, at, None], pa.timestamp("ms", tz="UTC")),
            "tags": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
            "point": pa.array([{"a": 1, "b": "x"}, None, {"a": 2, "b": None}], point),
        }
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The app's offline folder, and a source with the files the user previews."""
    home = tmp_path_factory.mktemp("parquet-app")
    offline_folder(home / "app-static")
    data = home / "data"
    data.mkdir()
    pq.write_table(
        big_table(), data / "big.parquet", row_group_size=ROWS // GROUPS, compression=CODECS
    )
    pq.write_table(types_table(), data / "types.parquet", compression="brotli")
    (data / "notes.parquet").write_text("name,value\nnot,parquet\n" * 20)
    with (data / "big.parquet").open("rb") as whole:
        (data / "cut.parquet").write_bytes(whole.read(1 << 20))  # no footer
    lines = [{"id": 1, "name": "a"}, {"id": 2, "tags": ["x", "y"]}, {"id": 3, "name": None}]
    (data / "rows.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    sources = [{"name": "Local", "path": str(data)}]
    (home / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    return home


def flags(home: Path) -> list[str]:
    static = home / "app-static" / "static"
    return [
        f"--ServerApp.extra_static_paths={static}",
        "--FsspecProxy.app_pyscript_url=/static/pyscript/",
        "--FsspecProxy.app_interpreter_url=/static/pyodide/pyodide.mjs",
        "--FsspecProxy.app_npm_url=/static/npm/",
    ]


async def open_preview(page, path: str, inside: str) -> None:
    """Click Preview on ``path`` and wait for its preview to show ``inside``."""
    await page.click(f"button[data-preview='{path}']")
    try:
        await page.wait_for_selector(f"#preview:has(h2:text-is('{path}')) {inside}", timeout=30_000)
    except Exception:
        shown = {name: await page.inner_text(name) for name in ("#status", "#error", "#preview")}
        raise AssertionError(f"no {inside} for {path}: {shown}") from None


def row_group_spans(path: Path) -> list[tuple[int, int]]:
    """The byte span of each row group's column chunks."""
    metadata = pq.ParquetFile(path).metadata
    spans = []
    for number in range(metadata.num_row_groups):
        group = metadata.row_group(number)
        chunks = [group.column(c) for c in range(group.num_columns)]
        starts = [
            c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
            for c in chunks
        ]
        ends = [start + c.total_compressed_size for start, c in zip(starts, chunks, strict=True)]
        spans.append((min(starts), max(ends)))
    return spans


def requests_page(reads: list[dict], size: int) -> str:
    """The page's requests for the file as a table, for the docs' screenshot."""
    rows = "".join(
        f"<tr><td>{r['status']}</td><td>{html.escape(r['range'])}</td>"
        f"<td>{r['bytes'] / 2**20:.2f} MiB</td><td>{r['bytes'] / size:.1%}</td></tr>"
        for r in reads
    )
    total = sum(r["bytes"] for r in reads)
    return (
        "<body style='font: 15px system-ui; margin: 1.5rem'>"
        f"<h3>GET /fsspec-proxy/files/{BIG}, {size / 2**20:.1f} MiB: the page's requests</h3>"
        "<table cellpadding=6 style='border-collapse: collapse'><tr><th>Status</th>"
        f"<th>Range</th><th>Bytes</th><th>Of the file</th></tr>{rows}"
        f"<tr><th></th><th>total</th><th>{total / 2**20:.2f} MiB</th>"
        f"<th>{total / size:.1%}</th></tr></table></body>"
    )


@pytest.mark.parametrize(("mode", "thread"), [("dev", "main"), ("run", "worker")])
def test_the_app_previews_parquet_by_ranges(home, mode, thread):
    big = home / "data" / "big.parquet"
    size = big.stat().st_size
    assert size >= 64 * 2**20
    expected = big_table().slice(0, 1).to_pylist()[0]
    login = [f"--IdentityProvider.token={TOKEN}"] if mode == "run" else []
    audit = home / f"audit-{mode}-{thread}.log"
    ARTIFACTS.mkdir(exist_ok=True)

    with standalone(home, mode, *flags(home), *login, f"--ProxyManager.audit_log={audit}") as proxy:
        origin = f"http://127.0.0.1:{proxy.port}"

        async def scenario() -> dict:
            async with chromium() as browser:
                reads: list[dict] = []

                def record(response) -> None:
                    if response.url.endswith(f"/files/{BIG}"):
                        headers = response.headers
                        reads.append(
                            {
                                "status": response.status,
                                "range": response.request.headers.get("range", ""),
                                "bytes": int(headers.get("content-length", 0)),
                            }
                        )

                browser.context.on("response", record)
                page = await browser.context.new_page()
                if login:
                    await page.goto(f"{origin}/fsspec-proxy/api?token={TOKEN}")
                await page.goto(f"{origin}/fsspec-proxy/app/?mode={thread}")
                await page.wait_for_function(
                    "document.getElementById('status').textContent === 'Ready'", timeout=90_000
                )
                await page.wait_for_selector(f"tr[data-name='{BIG}']")  # opened on load
                clicked = time.perf_counter()
                await open_preview(page, BIG, "#preview-table tbody tr")
                first_rows = time.perf_counter() - clicked

                schema = [
                    (await row.locator("td").all_inner_texts())
                    for row in await page.locator("#parquet-schema tbody tr").all()
                ]
                arrow = big_table().schema
                assert schema == [
                    [field.name, str(field.type), CODECS[field.name].upper()] for field in arrow
                ]
                summary = await page.inner_text("#parquet-summary")
                assert summary == (
                    f"Parquet: {ROWS:,} rows in {GROUPS} row groups of {ROWS // GROUPS:,} "
                    "rows, 5 columns"
                )
                assert await page.inner_text("#parquet-rows") == f"Rows 1–100 of {ROWS:,}"
                cells = page.locator("#preview-table tbody tr").first.locator("td")
                assert await cells.all_inner_texts() == [
                    "0",
                    repr(expected["x"]),
                    expected["label"],
                    "2024-01-01 00:00:00",
                    "null",
                ]
                assert expected["label"].startswith("row 0 ") and expected["maybe"] is None
                opened = list(reads)
                assert {r["status"] for r in opened} == {206}, opened
                read = sum(r["bytes"] for r in opened)
                assert read < size / 4, opened
                shown = await page.inner_text("#parquet-read")
                assert f"in {len(opened)} range requests" in shown
                await page.set_viewport_size({"width": 1280, "height": 800})
                await page.screenshot(path=ARTIFACTS / f"app-parquet-{mode}-{thread}.png")

                await page.click("button:text-is('Next')")
                await page.wait_for_selector(f"#parquet-rows:text-is('Rows 101–200 of {ROWS:,}')")
                assert (await cells.all_inner_texts())[0] == "100"
                assert reads == opened  # the same column chunks, already read

                await page.click("button:text-is('Last')")
                last = f"Rows {ROWS - 99:,}–{ROWS:,} of {ROWS:,}"
                await page.wait_for_selector(f"#parquet-rows:text-is('{last}')")
                assert (await cells.all_inner_texts())[0] == str(ROWS - 100)
                paged = reads[len(opened) :]
                last_group = row_group_spans(big)[-1]
                assert paged, "the last page was read by new ranges"
                for r in paged:  # within the last row group only
                    start, end = (int(b) for b in r["range"].removeprefix("bytes=").split("-"))
                    assert last_group[0] <= start and end < last_group[1], (r, last_group)
                    assert r["status"] == 206

                await open_preview(page, "Local/types.parquet", "#preview-table tbody tr")
                column = page.locator("#parquet-schema tbody td:nth-child(2)")
                types = await column.all_inner_texts()
                flat = [str(field.type) for field in types_table().schema][:6]
                assert types == [*flat, "list<int64>", "struct<a: int64, b: string>"]
                codecs = page.locator("#parquet-schema tbody td:nth-child(3)")
                assert set(await codecs.all_inner_texts()) == {"BROTLI"}
                rows = [
                    await row.locator("td").all_inner_texts()
                    for row in await page.locator("#preview-table tbody tr").all()
                ]
                assert rows[0] == [
                    "true",
                    "1",
                    "2.0",
                    "2024-01-02",
                    "1.20",
                    "2024-01-02 03:04:05.678",
                    "[1, 2]",
                    '{"a": 1, "b": "x"}',
                ]
                assert rows[1][4] == "3.00" and rows[2][0] == "null"

                for path, message in [
                    (
                        "Local/notes.parquet",
                        "Not a Parquet file: it does not end with Parquet's footer (PAR1).",
                    ),
                    (
                        "Local/cut.parquet",
                        "A truncated Parquet file: it starts as Parquet but its footer is missing.",
                    ),
                ]:
                    await open_preview(page, path, "#preview-problem")
                    assert await page.inner_text("#preview-problem") == message
                    assert await page.locator("#error").is_hidden()

                await open_preview(page, "Local/rows.jsonl", "#preview-table")
                header = await page.locator("#preview-table thead th").all_inner_texts()
                assert header == ["id", "name", "tags"]
                rows = [
                    await row.locator("td").all_inner_texts()
                    for row in await page.locator("#preview-table tbody tr").all()
                ]
                assert rows == [["1", "a", ""], ["2", "", '["x", "y"]'], ["3", "null", ""]]

                clicked = time.perf_counter()  # again, with hyparquet loaded
                await open_preview(page, BIG, "#preview-table tbody tr")
                again = time.perf_counter() - clicked

                await page.set_content(requests_page(opened, size))
                await page.set_viewport_size({"width": 900, "height": 330})
                await page.screenshot(path=ARTIFACTS / f"app-parquet-{mode}-{thread}-ranges.png")
                assert browser.outside(origin) == [], browser.outside(origin)
                page_reads[:] = reads
                return {
                    "file_bytes": size,
                    "first_rows_s": first_rows,
                    "first_rows_again_s": again,
                    "bytes_read_for_first_rows": read,
                    "range_requests_for_first_rows": len(opened),
                }

        page_reads: list[dict] = []
        figures = asyncio.run(scenario())
    # the proxy's audit log saw the same reads as the page
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    named = [r for r in records if (r["source"], r["path"]) == ("Local", "big.parquet")]
    served = [r for r in named if r["operation"] == "GET files"]
    assert [r["status"] for r in served] == [206] * len(page_reads)
    assert sum(r["bytes"] for r in served) == sum(r["bytes"] for r in page_reads)
    (ARTIFACTS / f"app-parquet-{mode}-{thread}.json").write_text(json.dumps(figures))
