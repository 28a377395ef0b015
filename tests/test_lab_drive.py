"""The Storage drive in real JupyterLab (from PyPI, the extension as installed), in
Chromium: what a user sees and does in the panel, and what reaches the storage."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs
import yaml
from playwright.sync_api import expect

from jupyter_fsspec_proxy.testing import CHECKOUT
from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.lab import (  # noqa: F401 - jp_*: fixtures
    BROWSER,
    LAB_TOKEN,
    ROW,
    Jupyter,
    StorageBrowser,
    jp_asyncio_loop,
    jp_server_cleanup,
    jupyter_app,
)
from jupyter_fsspec_proxy.testing.processes import PeakRSS, wait_until
from jupyter_fsspec_proxy.testing.sources import (
    ACCESS_KEY,
    BUCKET,
    SECRET,
    s3_kwargs,
    staged_uploads,
)
from jupyter_fsspec_proxy.testing.tables import CODECS, GROUPS, ROWS, big_table

pytestmark = pytest.mark.browser

ARTIFACTS = CHECKOUT / "test-artifacts"
MiB = 1024 * 1024
CONFIRM_DELETE = re.compile("^(Delete|Move to Trash)$")
# for expect(): a state that follows a request to the server gets the page's own
# default (Playwright's expect waits 5 s), which a loaded CI machine can exceed
WAIT = 30_000
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# From the storage"]},
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["print(6 * 7)"],
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    home = tmp_path_factory.mktemp("lab")
    found = {"home": home}
    for name in ("local", "readonly", "rules"):
        found[name] = home / name
        found[name].mkdir()
    return found


@pytest.fixture(scope="module")
def s3_root(s3_endpoint) -> str:
    return f"{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def lab(folders, s3_endpoint, s3_root) -> Iterator[Jupyter]:
    sources = [
        # sentinels in the kwargs, whether or not the backend uses them
        {"name": "Local", "path": str(folders["local"]), "kwargs": {"password": ACCESS_KEY}},
        {"name": "S3", "path": f"s3://{s3_root}", "kwargs": s3_kwargs(s3_endpoint)},
        {"name": "Readonly", "path": str(folders["readonly"]), "readonly": True},
        {"name": "Rules", "path": str(folders["rules"]), "access": {"read": ["*"]}},
        {"name": "Hidden", "path": "memory://hidden", "access": {"read": ["user:nobody"]}},
    ]
    config = folders["home"] / "proxy.yaml"
    config.write_text(yaml.safe_dump({"sources": sources}))
    options = [
        f"--FsspecProxy.config_file={config}",
        "--FsspecProxy.shared_token_user=tester",
        "--LabApp.expose_app_in_browser=True",
    ]
    with jupyter_app(folders["home"], *options) as running:
        yield running


@pytest.fixture(scope="module")
def session(lab) -> Iterator[StorageBrowser]:
    """One page of JupyterLab for the module, logged in with the server's token."""
    with chromium_sync() as browser:
        browser.context.grant_permissions(["clipboard-read", "clipboard-write"])
        user = StorageBrowser(browser.context.new_page())
        user.start(f"{lab.url}lab?token={LAB_TOKEN}")
        user.browser = browser
        yield user


@pytest.fixture
def user(session) -> StorageBrowser:
    session.reset()
    return session


def test_the_panel_lists_the_sources_the_user_may_read(user, lab):
    user.go()
    user.wait_for_names(["Local", "Readonly", "Rules", "S3"])  # never "Hidden"
    readonly = user.page.locator(f"{BROWSER} .jp-fsspec-proxy-readonly .jp-DirListing-itemText")
    assert readonly.all_inner_texts() == ["Readonly", "Rules"]  # Rules: read, not write
    badge = user.page.evaluate(
        "getComputedStyle(document.querySelector('.jp-fsspec-proxy-readonly "
        ".jp-DirListing-itemModified'), '::after').content"
    )
    assert badge == '"read-only"'
    ARTIFACTS.mkdir(exist_ok=True)
    user.page.screenshot(path=ARTIFACTS / "jupyterlab-storage.png")


def test_notebook_csv_and_text_open_in_jupyterlabs_viewers(user, folders):
    (folders["local"] / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (folders["local"] / "table.csv").write_text("city,people\nParis,2102650\nLyon,522250\n")
    (folders["local"] / "notes.md").write_text("# Notes\n\nwritten on the server\n")
    user.go("Local")
    user.row("analysis.ipynb").dblclick()
    user.page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput h1")
    # the markdown is rendered on its own: the code cell's editor may come later
    cells = user.page.locator(".jp-NotebookPanel .jp-Cell")
    expect(cells).to_have_count(2, timeout=WAIT)
    expect(cells.nth(0)).to_contain_text("From the storage", use_inner_text=True, timeout=WAIT)
    expect(cells.nth(1)).to_contain_text("print(6 * 7)", use_inner_text=True, timeout=WAIT)
    user.wait_for_document("Local/analysis.ipynb")

    user.row("table.csv").dblclick()
    user.page.wait_for_selector(".jp-CSVViewer")
    # the grid draws on a canvas: read the cells it shows from its model
    user.page.wait_for_function(
        "window.jupyterapp.shell.currentWidget.content._grid?.dataModel?.rowCount('body') === 2"
    )
    grid = "widget.content._grid.dataModel"
    header = user.current_widget(f"[0, 1].map(c => {grid}.data('column-header', 0, c))")
    first = user.current_widget(f"[0, 1].map(c => {grid}.data('body', 0, c))")
    assert (header, first) == (["city", "people"], ["Paris", "2102650"])

    user.row("notes.md").dblclick()
    # the editor is drawn before the document's text arrives: wait for the text
    editor = user.page.locator(".jp-FileEditor .cm-content")
    expect(editor).to_contain_text("written on the server", use_inner_text=True, timeout=WAIT)
    ARTIFACTS.mkdir(exist_ok=True)
    user.page.screenshot(path=ARTIFACTS / "jupyterlab-documents.png")


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + (chunk(b"IEND", b""))
    )


def test_an_image_opens_in_jupyterlabs_image_viewer(user, folders):
    (folders["local"] / "dot.png").write_bytes(png(3, 2, (200, 30, 30)))
    user.go("Local")
    user.row("dot.png").dblclick()
    image = user.page.locator(".jp-ImageViewer img")
    image.wait_for()
    user.page.wait_for_function("document.querySelector('.jp-ImageViewer img').naturalWidth > 0")
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [3, 2]  # the bytes arrived whole, as base64, and decoded
    assert image.get_attribute("src").startswith("data:image/png;base64,")


def edited_and_saved(user: StorageBrowser, target: Path, line: str, typed: str) -> None:
    """``target`` (in Local) made with ``line``, opened in the editor, ``typed`` at its
    end and saved, until the save reached the file."""
    target.write_text(line + "\n")
    user.go("Local")
    user.edit(target.name, line, typed)
    wait_until(lambda: typed in target.read_text(), "the save reached the file")


def test_edit_and_save_write_the_bytes(user, folders):
    target = folders["local"] / "edit.txt"
    edited_and_saved(user, target, "first line", "typed in the browser")
    assert target.read_text() == "first line\ntyped in the browser"


def test_a_file_deleted_on_the_server_is_saved_anew(user, folders):
    target = folders["local"] / "deleted.txt"
    edited_and_saved(user, target, "here", "once")
    target.unlink()  # by someone else
    user.page.keyboard.type(", twice")
    user.page.keyboard.press("Control+s")
    wait_until(target.exists, "the file made again by the save")
    assert target.read_text() == "here\nonce, twice"


def test_a_file_changed_on_the_server_is_not_overwritten_until_overwrite(user, folders):
    target = folders["local"] / "shared.txt"
    target.write_text("version 1\n")
    user.go("Local")
    user.row("shared.txt").dblclick()
    user.page.wait_for_selector(".jp-FileEditor .cm-content >> text=version 1")
    target.write_text("version 2, from someone else\n")
    user.page.click(".jp-FileEditor .cm-content")
    user.page.keyboard.press("Control+End")
    user.page.keyboard.type("mine")
    user.page.keyboard.press("Control+s")
    assert "File Changed" in user.dialog_text()
    assert target.read_text() == "version 2, from someone else\n"
    user.press_dialog("Overwrite")
    wait_until(lambda: "mine" in target.read_text(), "the overwrite reached the file")
    assert target.read_text() == "version 1\nmine"


def delete_selected(user: StorageBrowser, asked: str) -> None:
    """Press Delete and confirm JupyterLab's question, which holds ``asked`` (its
    wording follows the server's delete_to_trash, for its own files)."""
    user.page.keyboard.press("Delete")
    assert asked in user.dialog_text()
    user.press_dialog(CONFIRM_DELETE)


def test_new_folder_rename_move_copy_and_delete_act_on_the_storage(user, folders):
    ops = folders["local"] / "ops"  # a folder of its own: every listing is known
    ops.mkdir()
    (ops / "draft.txt").write_text("draft")
    user.go("Local", "ops")
    user.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='new-directory'] button")
    user.page.wait_for_selector(f"{BROWSER} .jp-DirListing-editor")
    user.page.keyboard.press("Enter")  # keeps the name JupyterLab proposes
    user.page.wait_for_selector(f"{BROWSER} .jp-DirListing-editor", state="detached")
    user.wait_for_names(["Untitled Folder", "draft.txt"])
    assert (ops / "Untitled Folder").is_dir()

    user.row("draft.txt").click()
    user.page.keyboard.press("F2")
    user.page.keyboard.press("Control+a")
    user.page.keyboard.type("final.txt")
    user.page.keyboard.press("Enter")
    user.wait_for_names(["Untitled Folder", "final.txt"])
    assert sorted(p.name for p in ops.iterdir()) == ["Untitled Folder", "final.txt"]

    user.row("final.txt").click()
    user.page.keyboard.press("Control+c")
    user.page.keyboard.press("Control+v")
    user.wait_for_names(["Untitled Folder", "final-Copy1.txt", "final.txt"])
    assert (ops / "final-Copy1.txt").read_text() == "draft"

    user.row("final-Copy1.txt").drag_to(user.row("Untitled Folder"))
    user.wait_for_names(["Untitled Folder", "final.txt"])
    assert (ops / "Untitled Folder" / "final-Copy1.txt").read_text() == "draft"

    user.row("final.txt").click()
    delete_selected(user, "final.txt?")
    user.wait_for_names(["Untitled Folder"])
    assert [p.name for p in ops.iterdir()] == ["Untitled Folder"]


def test_a_notebook_from_the_panels_launcher_is_made_in_its_folder(user, folders):
    made = folders["local"] / "made"
    made.mkdir()
    user.go("Local", "made")
    user.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='new-launcher'] button")
    # the launcher just opened: one of an earlier test may be open behind it
    user.page.locator(".jp-LauncherCard[data-category='Notebook']:visible").first.click()
    # attached a frame before it is current (the launcher is until then)
    user.wait_for_document("Local/made/Untitled.ipynb")
    wait_until(lambda: (made / "Untitled.ipynb").exists(), "the new notebook")
    assert json.loads((made / "Untitled.ipynb").read_text())["nbformat"] == 4


def test_sorting_and_a_multiple_selection_act_as_in_jupyterlab(user, folders):
    picks = folders["local"] / "picks"
    picks.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (picks / name).write_text(name)
    user.go("Local", "picks")
    user.wait_for_names(["a.txt", "b.txt", "c.txt"])
    name_header = f"{BROWSER} .jp-DirListing-headerItem.jp-id-name"
    user.page.click(name_header)
    user.wait_for_names(["c.txt", "b.txt", "a.txt"])  # by name, descending
    user.page.click(name_header)
    user.wait_for_names(["a.txt", "b.txt", "c.txt"])

    user.row("a.txt").click()
    user.row("c.txt").click(modifiers=["Control"])
    # the listing draws a selection in its next animation frame, not in the click
    expect(user.page.locator(f"{ROW}.jp-mod-selected")).to_have_count(2)
    delete_selected(user, "2")  # one confirmation for both
    user.wait_for_names(["b.txt"])
    assert [p.name for p in picks.iterdir()] == ["b.txt"]


def test_a_folder_of_10000_entries_shows_them_all_and_scrolls(user, folders):
    many = folders["local"] / "many"
    many.mkdir()
    for n in range(10_000):
        (many / f"file-{n:05d}.txt").write_bytes(b"x")
    try:
        user.go("Local", "many")
        user.row("file-00000.txt").wait_for()
        assert user.page.locator(ROW).count() == 10_000  # all of them, not a first page
        content = user.page.locator(f"{BROWSER} .jp-DirListing-content")
        content.evaluate("node => node.scrollTo(0, node.scrollHeight)")
        last = user.row("file-09999.txt")
        box, shown = last.bounding_box(), content.bounding_box()
        assert shown["y"] <= box["y"] and box["y"] + box["height"] <= shown["y"] + shown["height"]
        last.click()
        user.page.keyboard.press("ArrowUp")  # the keyboard moves the selection
        selected = user.page.locator(f"{ROW}.jp-mod-selected .jp-DirListing-itemText")
        expect(selected).to_have_text(["file-09998.txt"])  # drawn in the next frame
    finally:
        user.go("Local")  # not listed again by the tests after this one
        shutil.rmtree(many)


def test_revert_to_checkpoint_restores_the_last_save(user, folders):
    target = folders["local"] / "draft.txt"
    edited_and_saved(user, target, "version 1", "saved")
    user.page.keyboard.type(" and not saved")
    user.page.evaluate("void window.jupyterapp.commands.execute('docmanager:restore-checkpoint')")
    assert "checkpoint" in user.dialog_text().lower()
    user.press_dialog("Revert")
    editor = user.page.locator(".jp-FileEditor .cm-content")
    expect(editor).to_have_text("version 1\nsaved", use_inner_text=True, timeout=WAIT)
    assert target.read_text() == "version 1\nsaved"
    hidden = [p.name for p in folders["local"].iterdir() if p.name.startswith(".")]
    assert hidden == []  # checkpoints live in the tab: nothing in the storage


def test_refused_writes_show_the_proxys_message(user, folders):
    (folders["readonly"] / "kept.txt").write_text("kept")
    (folders["rules"] / "ruled.txt").write_text("ruled")
    user.go("Readonly")
    user.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='new-directory'] button")
    assert "Source 'Readonly' is readonly" in user.dialog_text()  # the proxy's message
    user.press_dialog("Close")
    assert sorted(p.name for p in folders["readonly"].iterdir()) == ["kept.txt"]

    user.go("Rules")
    user.row("ruled.txt").click()
    delete_selected(user, "ruled.txt")
    assert "not write" in user.dialog_text()  # the access rule's refusal
    user.press_dialog("Close")
    assert (folders["rules"] / "ruled.txt").read_text() == "ruled"


def test_a_file_over_the_size_setting_is_refused_not_loaded(user, folders):
    with (folders["local"] / "huge.log").open("wb") as huge:
        huge.truncate(100 * MiB)
    user.go("Local")
    user.row("huge.log").dblclick()
    message = user.dialog_text()
    assert "100.0 MiB" in message and "over 32 MiB are not opened" in message
    user.press_dialog("Close")
    user.page.wait_for_selector(".jp-FileEditor", state="detached")  # JupyterLab closes it


def test_copy_path_and_copy_code_name_no_credential(user, lab, folders):
    (folders["local"] / "sales.csv").write_text("year,total\n2024,12\n")
    user.go("Local")
    clipboard = []
    for item in ("Copy proxy:// Path", "Copy Code to Open"):
        user.row("sales.csv").click(button="right")
        user.menu_item(item)
        clipboard.append(user.page.evaluate("navigator.clipboard.readText()"))
    assert clipboard[0] == "proxy://Local/sales.csv"
    code = clipboard[1]
    assert 'pd.read_csv("proxy://Local/sales.csv")' in code
    # the code runs as copied in a Python that knows where the proxy is
    env = {
        **os.environ,
        "FSSPEC_PROXY_URL": f"{lab.url}fsspec-proxy/",
        "FSSPEC_PROXY_TOKEN": LAB_TOKEN,
    }
    run = subprocess.run(
        [sys.executable, "-c", code + "print(df.total.sum())"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.stdout.strip() == "12", run.stderr
    for secret in (SECRET, ACCESS_KEY, LAB_TOKEN):
        assert secret not in code


def a_file_of(path: Path, mib: int) -> Path:
    block = hashlib.sha256(path.name.encode()).digest() * (MiB // 32)
    with path.open("wb") as out:
        for index in range(mib):
            out.write(index.to_bytes(4, "big") + block[4:])
    return path


def start_upload(user: StorageBrowser, upload: Path) -> None:
    """Upload ``upload`` with the panel's button, past the large file warning."""
    with user.page.expect_file_chooser() as chooser:
        user.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='uploader'] button")
    chooser.value.set_files(upload)
    assert "Large file size warning" in user.dialog_text()
    user.press_dialog("Upload")


def test_an_upload_of_200_mib_is_byte_exact_with_the_servers_memory_bounded(
    user, lab, folders, tmp_path
):
    upload = a_file_of(tmp_path / "big.bin", 200)
    user.go("Local")
    with PeakRSS(lab.process.pid) as memory:
        start_upload(user, upload)
        target = folders["local"] / "big.bin"
        wait_until(lambda: target.exists(), "the upload completed", timeout=240)
    assert (
        hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(upload.read_bytes()).digest()
    )
    assert memory.growth_mib < 64, memory.growth_mib
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {"upload_mib": 200, "server_rss_growth_mib": round(memory.growth_mib, 1)}
    (ARTIFACTS / "jupyterlab-upload.json").write_text(json.dumps(figures))
    assert staged_uploads(folders["local"]) == []


def test_an_upload_shows_its_progress_and_a_cancel_keeps_nothing(user, folders, tmp_path):
    upload = a_file_of(tmp_path / "cancelled.bin", 96)
    user.go("Local")
    start_upload(user, upload)
    progress = user.page.locator(".jp-StatusBar-Widget [role=progressbar]")
    progress.wait_for()
    user.page.wait_for_function(
        "Number(document.querySelector('.jp-StatusBar-Widget [role=progressbar]')"
        ".getAttribute('aria-valuenow')) > 0"
    )
    wait_until(lambda: staged_uploads(folders["local"]), "pieces arrived")
    user.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='cancel-uploads'] button")
    assert "was cancelled: nothing of it was kept" in user.dialog_text()
    user.press_dialog(re.compile("Dismiss|Close|OK"))
    wait_until(lambda: not staged_uploads(folders["local"]), "the staged pieces removed")
    assert not (folders["local"] / "cancelled.bin").exists()
    progress.wait_for(state="hidden")  # the status bar shows no upload any more
    cancel_button = f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='cancel-uploads']"
    assert not user.page.locator(cancel_button).is_visible()  # shown during uploads only


def test_leaving_the_page_during_an_upload_keeps_nothing(user, lab, folders, tmp_path):
    upload = a_file_of(tmp_path / "left.bin", 96)
    user.go("Local")
    start_upload(user, upload)
    wait_until(lambda: staged_uploads(folders["local"]), "pieces arrived")
    user.page.reload()
    # aborted by the page as it left, long before the session's idle expiry (120 s)
    wait_until(lambda: not staged_uploads(folders["local"]), "the staged pieces removed")
    assert not (folders["local"] / "left.bin").exists()
    user.start(f"{lab.url}lab?token={LAB_TOKEN}")


def test_a_download_uses_a_signed_url(user, folders):
    (folders["local"] / "report.txt").write_text("the report")
    user.go("Local")
    user.row("report.txt").click(button="right")
    with user.page.expect_download() as download:
        user.menu_item("Download")
    assert "/fsspec-proxy/signed/" in download.value.url
    assert Path(download.value.path()).read_text() == "the report"


def test_s3_files_open_and_save_through_the_proxy(user, s3_endpoint, s3_root):
    bucket = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    bucket.pipe(f"{s3_root}/cloud.txt", b"in the bucket\n")
    user.go("S3")
    user.edit("cloud.txt", "in the bucket", "edited")
    wait_until(lambda: b"edited" in bucket.cat(f"{s3_root}/cloud.txt"), "the save to S3")


def test_a_parquet_file_opens_as_a_table_read_by_ranges(user, folders):
    rows = 100
    table = pa.table(
        {
            "city": [f"city {n}" for n in range(rows)],
            "people": pa.array([n * 1000 for n in range(rows)], pa.int64()),
            "area": [n + 0.5 for n in range(rows)],
            "founded": pa.array(
                [
                    datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)
                    for n in range(rows)
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "note": [None if n % 2 == 0 else f"note {n}" for n in range(rows)],
        }
    )
    codecs = {
        "city": "snappy",
        "people": "gzip",
        "area": "zstd",
        "founded": "snappy",
        "note": "zstd",
    }
    pq.write_table(
        table, folders["local"] / "cities.parquet", row_group_size=25, compression=codecs
    )
    (folders["local"] / "fake.parquet").write_text("not parquet at all")
    user.go("Local")
    user.row("cities.parquet").dblclick()
    view = ".jp-fsspec-proxy-parquet"
    user.page.wait_for_selector(f"{view} .jp-fsspec-proxy-parquet-rows tbody tr")
    status = user.page.inner_text(f"{view} .jp-fsspec-proxy-parquet-status")
    assert status == "100 rows · 4 row groups · 5 columns · gzip, snappy, zstd"
    header = user.page.locator(f"{view} .jp-fsspec-proxy-parquet-rows thead th").all_inner_texts()
    assert header == ["#", "city", "people", "area", "founded", "note"]
    first = user.page.locator(f"{view} .jp-fsspec-proxy-parquet-rows tbody tr").first
    cells = first.locator("th, td").all_inner_texts()
    assert cells == ["0", "city 0", "0", "0.5", "2000-01-01T00:00:00.000Z", "null"]
    types = user.page.locator(f"{view} .jp-fsspec-proxy-parquet-schema tbody tr").all_inner_texts()
    assert [t.split("\t")[:2] for t in types] == [
        ["city", "string"],
        ["people", "int64"],
        ["area", "double"],
        ["founded", "timestamp[millis, UTC]"],
        ["note", "string"],
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    user.page.screenshot(path=ARTIFACTS / "jupyterlab-parquet.png")
    reads = [r for r in user.responses if "files/Local/cities.parquet" in r.url]
    assert reads and {r.status for r in reads} == {206}  # byte ranges, never the whole file

    user.row("fake.parquet").dblclick()
    user.page.wait_for_selector(f"{view} .jp-fsspec-proxy-parquet-status.jp-mod-error")
    message = user.page.locator(f"{view} .jp-fsspec-proxy-parquet-status.jp-mod-error")
    assert message.inner_text().startswith("Not a readable Parquet file: ")
    assert "\n" not in message.inner_text()


def test_a_64_mib_parquet_file_shows_its_first_rows_reading_under_a_quarter(user, folders):
    big = folders["local"] / "big.parquet"  # the app's test file: 8 row groups, 3 codecs
    pq.write_table(big_table(), big, row_group_size=ROWS // GROUPS, compression=CODECS)
    user.go("Local")
    first = len(user.responses)
    user.row("big.parquet").dblclick()
    rows = ".jp-fsspec-proxy-parquet .jp-fsspec-proxy-parquet-rows tbody tr"
    user.page.wait_for_selector(rows)
    cells = user.page.locator(rows).first.locator("th, td").all_inner_texts()
    assert cells[:2] == ["0", "0"] and cells[3].startswith("row 0 ")  # n, x, label
    status = user.page.inner_text(".jp-fsspec-proxy-parquet-status")
    assert status.startswith(f"{ROWS:,} rows · {GROUPS} row groups · 5 columns")
    reads = [r for r in user.responses[first:] if "files/Local/big.parquet" in r.url]
    assert {r.status for r in reads} == {206}
    read = sum(len(r.body()) for r in reads)
    assert 0 < read < big.stat().st_size / 4, (read, big.stat().st_size)
    big.unlink()


def test_no_response_holds_a_credential_or_a_hidden_source(session, lab):
    assert session.received()
    assert session.responses_holding(SECRET, ACCESS_KEY) == []
    named = [url for url in session.responses_holding('"Hidden"') if "/fsspec-proxy/" in url]
    assert named == []  # no answer of the proxy names it
    assert session.browser.outside(lab.url.rstrip("/")) == []
