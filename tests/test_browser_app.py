"""The PyScript app at fsspec-proxy/app/, in headless Chromium, offline, on the
main thread and in a worker."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.async_api import expect

from jupyter_fsspec_proxy.testing import CHECKOUT
from jupyter_fsspec_proxy.testing.browser import chromium, offline_folder
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.browser

ARTIFACTS = CHECKOUT / "test-artifacts"
ROWS = "\n".join(f"{n},{n * n},row {n}" for n in range(5000))
CSV = f"n,square,label\n{ROWS}\n".encode()  # more than the 64 KiB a preview reads
SIZE = f"{len(CSV) / 1024:.1f} KiB"
TOKEN = "app-offline-token"
# wider than any window: its preview must scroll, not cover the file list
WIDE = ",".join(f"a rather long column name {n}" for n in range(40)).encode() + b"\n"


@pytest.fixture
def jp_base_url() -> str:
    return "/"


HARNESS = {  # the app's runtimes and modules, from the harness site
    "app_pyscript_url": "/static/harness/pyscript/",
    "app_interpreter_url": "/static/harness/pyodide/pyodide.mjs",
    "app_npm_url": "/static/harness/npm/",
}


@pytest.fixture
def extension_config(browser_site) -> dict:
    return HARNESS


@pytest.fixture
def jp_server_config(jp_server_config, browser_site):
    jp_server_config["ServerApp"]["extra_static_paths"] = [str(browser_site.parent)]
    return jp_server_config


@pytest.mark.parametrize("mode", ["main", "worker"])
async def test_app_browses_previews_uploads_and_deletes(
    mode, jp_serverapp, http_server, jp_http_port, local_root, readonly_root
):
    (local_root / "data.csv").write_bytes(CSV)
    (local_root / "wide.csv").write_bytes(WIDE + WIDE.replace(b"name", b"value"))
    (local_root / "docs").mkdir()
    (local_root / "docs" / "blob.bin").write_bytes(bytes(range(256)) + bytes(44))
    origin = f"http://127.0.0.1:{jp_http_port}"
    token = jp_serverapp.identity_provider.token
    ARTIFACTS.mkdir(exist_ok=True)

    async with chromium() as browser:
        page = await browser.context.new_page()
        ranges: list[str] = []
        page.on("request", lambda r: "data.csv" in r.url and ranges.append(r.headers.get("range")))
        await page.goto(f"{origin}/fsspec-proxy/api?token={token}")  # the login cookie
        opened = time.perf_counter()
        await page.goto(f"{origin}/fsspec-proxy/app/?mode={mode}")
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'Ready'", timeout=90_000
        )
        ready = time.perf_counter()
        # the first source is open without a click
        await page.wait_for_selector("td.empty")
        assert await page.inner_text("#crumbs") == "Scratch"
        assert await page.inner_text("#sources button.current") == "Scratch"
        # S3Down is available (its storage is down, not its configuration): it is
        # clicked below
        assert await page.locator("#sources button[disabled]").all_inner_texts() == ["Broken"]

        await page.click("#sources button[data-path='Local']")
        await page.wait_for_selector("tr[data-name='Local/data.csv']")
        listed = time.perf_counter()
        timings = {"ready_s": ready - opened, "first_listing_s": listed - opened}
        (ARTIFACTS / f"app-{mode}-timings.json").write_text(json.dumps(timings))
        row = await page.inner_text("tr[data-name='Local/data.csv']")
        assert SIZE in row and "Delete" in row
        assert await page.locator("a[data-open='Local/docs']").count() == 1

        await page.click("button[data-preview='Local/data.csv']")
        await page.wait_for_selector("#preview-table")
        assert await page.locator("#preview-table thead th").all_inner_texts() == [
            "n",
            "square",
            "label",
        ]
        assert await page.locator("#preview-table tbody tr, #preview-table > tr").count() == 100
        assert f"First 64.0 KiB of {SIZE}" in await page.inner_text("#preview")
        assert "bytes=0-65535" in ranges  # only the first bytes were read
        await page.click("#preview-close")
        await page.wait_for_selector("#preview:empty")

        await page.click("button[data-preview='Local/wide.csv']")
        await page.wait_for_selector("#preview-table")
        assert await page.locator("#preview-table thead th").count() == 40
        async with page.expect_download() as download:  # real clicks: nothing covers them
            await page.click("tr[data-name='Local/wide.csv'] a[download]")
        assert (await download.value).suggested_filename == "wide.csv"
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click("button[data-delete='Local/wide.csv']")
        await page.wait_for_selector("tr[data-name='Local/wide.csv']", state="detached")
        assert not (local_root / "wide.csv").exists()

        await page.set_input_files(
            "#upload", files=[{"name": "up.txt", "mimeType": "text/plain", "buffer": b"hello app"}]
        )
        await page.wait_for_selector("tr[data-name='Local/up.txt']")
        assert (local_root / "up.txt").read_bytes() == b"hello app"
        progress = await page.eval_on_selector("#progress", "p => [p.value, p.max, p.hidden]")
        assert progress == [0, 1, True]  # reset for the next upload
        assert await page.inner_text("#sources button.current") == "Local"
        assert "Modified (local time)" in await page.inner_text("thead")
        await page.click("button[data-preview='Local/data.csv']")
        await page.wait_for_selector("#preview h2:text-is('Local/data.csv')")
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.screenshot(path=ARTIFACTS / f"app-{mode}.png")
        link = await page.get_attribute("tr[data-name='Local/up.txt'] a[download]", "href")
        downloaded = await page.request.get(link)  # the page's own session cookie
        assert (downloaded.status, await downloaded.body()) == (200, b"hello app")

        await page.click("button[data-preview='Local/up.txt']")
        await page.wait_for_selector("#preview-text")
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click("button[data-delete='Local/up.txt']")
        await page.wait_for_selector("tr[data-name='Local/up.txt']", state="detached")
        assert not (local_root / "up.txt").exists()
        assert await page.inner_text("#preview") == ""  # its preview went with it

        await page.click("a[data-open='Local/docs']")
        await page.wait_for_selector("tr[data-name='Local/docs/blob.bin']")
        await page.click("button[data-preview='Local/docs/blob.bin']")
        await page.wait_for_selector("#preview-hex")
        assert "Binary, 300 bytes" in await page.inner_text("#preview")
        assert "00000000  00 01 02 03" in await page.inner_text("#preview-hex")
        await page.set_viewport_size({"width": 420, "height": 800})
        await page.screenshot(path=ARTIFACTS / f"app-{mode}-narrow.png")
        await page.click("#crumbs a[data-open='Local']")  # breadcrumbs lead back
        await page.wait_for_selector("tr[data-name='Local/data.csv']")
        await page.click("#sources button[data-path='S3Down']")  # a listing that fails
        await page.wait_for_selector("#error:not([hidden])")
        assert await page.locator("#entries tr[data-name]").count() == 0  # no rows of Local
        assert await page.inner_text("#entries") == "S3Down could not be listed"
        assert await page.inner_text("#crumbs") == "S3Down"

        await page.click("#sources button[data-path='Scratch']")  # an empty root
        # not td.empty alone: S3Down's failure is such a cell, and its #error is shown
        # until Scratch's listing starts
        await page.wait_for_selector("td.empty:text-is('This folder is empty')")
        # in a worker the app sets the DOM a call at a time: the uploader after the rows
        await expect(page.locator("#uploader")).to_be_visible()
        await page.click("#sources button[data-path='S3Down']")  # a listing that fails
        await page.wait_for_selector("#error:not([hidden])")
        assert await page.locator("#uploader").is_hidden()  # nothing acts on Scratch now
        assert "S3Down" in await page.inner_text("#crumbs")
        await page.click("#sources button[data-path='Local']")
        await page.wait_for_selector("tr[data-name='Local/data.csv']")

        (local_root / "data.csv").unlink()  # gone behind the app's back
        await page.click("button[data-preview='Local/data.csv']")
        await page.wait_for_selector("#error:not([hidden])")
        assert "FileNotFoundError" in await page.inner_text("#error")

        await page.click("#sources button[data-path='Readonly']")
        await page.wait_for_selector("tr[data-name='Readonly/kept.txt']")
        assert await page.locator("button[data-delete]").count() == 0
        # the listing hid the uploader as it started: whether it shows it again is set
        # after the rows (a call later, in a worker). A click is handled once that is
        # done (the listing does not await after its rows): a preview shown says so.
        await page.click("button[data-preview='Readonly/kept.txt']")
        await page.wait_for_selector("#preview:has(h2:text-is('Readonly/kept.txt')) #preview-text")
        assert await page.locator("#uploader").is_hidden()

        assert browser.outside(origin) == [], browser.outside(origin)


@pytest.mark.parametrize("extension_config", [{"app_pyscript_url": "/nowhere/"}])
async def test_the_app_says_when_python_cannot_start(jp_serverapp, http_server, jp_http_port):
    origin = f"http://127.0.0.1:{jp_http_port}"
    token = jp_serverapp.identity_provider.token
    async with chromium() as browser:
        page = await browser.context.new_page()
        await page.goto(f"{origin}/fsspec-proxy/api?token={token}")
        started = time.perf_counter()
        await page.goto(f"{origin}/fsspec-proxy/app/")
        await page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert time.perf_counter() - started < 10
        message = await page.inner_text("#error")
        assert "PyScript could not be loaded" in message and "app_pyscript_url" in message
        assert await page.inner_text("#status") == "Python did not start"


@pytest.mark.parametrize("extension_config", [{**HARNESS, "app_npm_url": "/nowhere/"}])
async def test_the_app_says_when_the_parquet_reader_cannot_be_loaded(
    jp_serverapp, http_server, jp_http_port, local_root
):
    pq.write_table(pa.table({"n": [1]}), local_root / "one.parquet")
    (local_root / "one.csv").write_text("n\n1\n")
    origin = f"http://127.0.0.1:{jp_http_port}"
    token = jp_serverapp.identity_provider.token
    async with chromium() as browser:
        page = await browser.context.new_page()
        await page.goto(f"{origin}/fsspec-proxy/api?token={token}")
        await page.goto(f"{origin}/fsspec-proxy/app/")
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'Ready'", timeout=90_000
        )
        await page.click("#sources button[data-path='Local']")
        await page.click("button[data-preview='Local/one.parquet']")
        await page.wait_for_selector("#preview-problem")
        assert await page.inner_text("#preview-problem") == (
            f"The Parquet reader could not be loaded from {origin}/nowhere/hyparquet@1.33.0/ "
            "(FsspecProxy.app_npm_url; see the app's docs to serve it locally)."
        )
        assert await page.locator("#error").is_hidden()
        await page.click("button[data-preview='Local/one.csv']")  # the app goes on
        await page.wait_for_selector("#preview-table")


def documented_flags() -> list[str]:
    """The flags of the ``jupyter fsspec-proxy`` command in docs/pyscript.md's
    offline block, as written there."""
    page = (CHECKOUT / "docs" / "pyscript.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", page, re.S) if "offline" in b)
    command = block.replace("\\\n", " ").splitlines()[-1]
    program, flags = command.split(" --", 1)
    assert program == "jupyter fsspec-proxy"
    return shlex.split("--" + flags)


def test_the_app_runs_offline_as_docs_pyscript_md_says(tmp_path, monkeypatch):
    """``jupyter fsspec-proxy offline`` then the documented flags: the app starts
    from local copies only and previews a Parquet file, in Chromium with no network."""
    offline_folder(tmp_path / "app-static")
    (tmp_path / "data").mkdir()
    table = pa.table({"city": ["Lyon", "Oslo"], "people": [522_000, 709_000]})
    pq.write_table(table, tmp_path / "data" / "cities.parquet")
    monkeypatch.chdir(tmp_path)  # the documented relative path
    with standalone(tmp_path, "run", *documented_flags(), f"--token={TOKEN}") as proxy:
        origin = f"http://127.0.0.1:{proxy.port}"

        async def scenario():
            async with chromium() as browser:
                page = await browser.context.new_page()
                await page.goto(f"{origin}/fsspec-proxy/api?token={TOKEN}")  # the login cookie
                await page.goto(f"{origin}/fsspec-proxy/app/")
                await page.wait_for_function(
                    "document.getElementById('status').textContent === 'Ready'", timeout=90_000
                )
                await page.click("button[data-preview='Local/cities.parquet']")
                await page.wait_for_selector("#preview-table tbody tr")
                rows = await page.locator("#preview-table tbody tr").all_inner_texts()
                assert rows == ["Lyon\t522000", "Oslo\t709000"]
                return browser.outside(origin)

        assert asyncio.run(scenario()) == []
