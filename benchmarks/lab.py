"""The Storage panel against JupyterLab's own file browser on the same files.

    python benchmarks/lab.py [--rounds 3]     # by hand; starts its own JupyterLab

One JupyterLab (from PyPI, the extension as installed) whose root folder is also the
proxy's source "Bench", one Chromium page. Each action is timed in both browsers,
alternating, best of the rounds (after a first round that warms up): the time from
double-clicking a folder of 1,000 (and 10,000) files until its rows are shown (and the
longest task of the page's main thread meanwhile: how long the page froze), opening a
10 MiB CSV until the grid has its rows, saving a 1 MiB notebook (the document's save:
JupyterLab's check for a change on disk, the write, the check after), uploading
256 MiB through the upload button until the file is complete on disk, and opening a
64 MiB Parquet file of 8 row groups (issue 24's file) until its first rows show, with
the bytes the page read. Then, in the Storage panel only, a 1 GiB upload with the
server's memory and temporary folder sampled, and one cancelled half-way (how long
until nothing of it remains). Prints seconds and the ratio Storage / JupyterLab;
writes benchmarks/results/lab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from jupyter_fsspec_proxy.confined import STAGED_PREFIX
from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.lab import LAB_TOKEN, StorageBrowser, jupyter_app
from jupyter_fsspec_proxy.testing.processes import Peak, PeakRSS, folder_bytes
from jupyter_fsspec_proxy.testing.tables import CODECS, GROUPS, ROWS, big_table

HERE = Path(__file__).parent
MiB = 1024 * 1024
GiB = 1024 * MiB
CSV_ROWS = 275_000  # 10 MiB
LISTINGS = {"listing_1000": "many1000", "listing_10000": "many10000"}
# The two browsers: JupyterLab's own (contents API, local disk) and the Storage
# panel (the proxy's source "Bench", the same folder).
BROWSERS = {"storage": ("#fsspec-proxy-browser", "Bench"), "jupyterlab": ("#filebrowser", "")}


def make_data(root: Path) -> None:
    for count, folder in ((1000, "many1000"), (10000, "many10000")):
        (root / folder).mkdir()
        for n in range(count):
            (root / folder / f"file-{n:05d}.txt").write_bytes(b"x")
    rows = "".join(f"{n},{n * 7 % 1000},label {n:08d},{n / 3:.6f}\n" for n in range(CSV_ROWS))
    (root / "table.csv").write_text("id,group,label,value\n" + rows)
    # 1 MiB in 100 code cells of 92 lines (one long line would freeze any editor)
    line = f"value = {'1 + ' * 18}1  # a line of about eighty characters.\n"
    lines = [line] * 92
    cells = [
        {"cell_type": "code", "metadata": {}, "source": lines, "id": f"c{n}",
         "execution_count": None, "outputs": []}
        for n in range(100)
    ]  # fmt: skip
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    (root / "big.ipynb").write_text(json.dumps(notebook))
    for name, mib in (("upload.bin", 256), ("upload-1gib.bin", 1024)):
        with (root / name).open("wb") as out:
            for _ in range(mib):
                out.write(bytes(range(256)) * 4096)
    pq.write_table(
        big_table(), root / "big.parquet", row_group_size=ROWS // GROUPS, compression=CODECS
    )


class Bench:
    def __init__(self, user: StorageBrowser, root: Path, pid: int) -> None:
        self.user, self.root, self.pid = user, root, pid

    def show(self, which: str, folder: str = "") -> str:
        """Open ``which`` browser's panel at ``folder`` (relative to the data root)."""
        selector, prefix = BROWSERS[which]
        page = self.user.page
        tab = selector.removeprefix("#")  # the panel's id
        if not page.locator(selector).is_visible():
            page.click(f".jp-SideBar.jp-mod-left [data-id='{tab}']")
        path = "/".join(p for p in (prefix, folder) if p)
        # "/...": from the root of the browser's drive (cd resolves others from where it is)
        page.evaluate(
            "([id, path]) => [...window.jupyterapp.shell.widgets('left')]"
            ".find(w => w.id === id).model.cd(path)",
            [tab, f"/{path}"],
        )
        return selector

    def row(self, selector: str, name: str):
        text = self.user.page.locator(
            ".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")
        )
        return self.user.page.locator(f"{selector} .jp-DirListing-item").filter(has=text)

    def listing(self, which: str, folder: str) -> tuple[float, float]:
        """Seconds from the double-click until every row shows, and the longest task
        of the page's main thread meanwhile (seconds)."""
        selector = self.show(which)
        count = len(list((self.root / folder).iterdir()))
        row = self.row(selector, folder)
        page = self.user.page
        page.evaluate(
            "() => { window.benchTasks = []; new PerformanceObserver(list => "
            "window.benchTasks.push(...list.getEntries().map(e => e.duration)))"
            ".observe({type: 'longtask'}); }"
        )
        started = time.perf_counter()
        row.dblclick()
        page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s + ' .jp-DirListing-item').length === n",
            arg=[selector, count],
            timeout=120_000,
        )
        elapsed = time.perf_counter() - started
        page.wait_for_timeout(200)  # the observer reports the last task
        longest = page.evaluate("Math.max(0, ...window.benchTasks) / 1000")
        return elapsed, longest

    def open_csv(self, which: str) -> float:
        selector = self.show(which)
        row = self.row(selector, "table.csv")
        started = time.perf_counter()
        row.dblclick()
        self.user.page.wait_for_function(
            "n => window.jupyterapp.shell.currentWidget?.content?._grid?.dataModel"
            "?.rowCount('body') === n",
            arg=CSV_ROWS,
            timeout=120_000,
        )
        elapsed = time.perf_counter() - started
        self.user.reset()
        return elapsed

    def save_notebook(self, which: str) -> float:
        selector = self.show(which)
        self.row(selector, "big.ipynb").dblclick()
        self.user.page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        # once the notebook drew its cells (idle), not while it draws them
        seconds = self.user.page.evaluate(
            "async () => { const context = window.jupyterapp.shell.currentWidget.context;"
            " await context.ready;"
            " await new Promise(done => requestIdleCallback(done, {timeout: 5000}));"
            " const started = performance.now();"
            " await context.save(); return (performance.now() - started) / 1000; }"
        )
        self.user.reset()
        return seconds

    def start_upload(self, which: str, name: str) -> Path:
        """Choose ``name`` in the upload button's dialog; its target, not there yet."""
        selector = self.show(which, "uploads")
        target = self.root / "uploads" / name
        target.unlink(missing_ok=True)
        page = self.user.page
        with page.expect_file_chooser() as chooser:
            page.click(f"{selector} .jp-Toolbar-item[data-jp-item-name='uploader'] button")
        chooser.value.set_files(self.root / name)
        return target

    def upload(self, which: str, name: str = "upload.bin") -> tuple[float, float]:
        """Seconds until the file ``name`` is complete on disk, and the server's RSS
        growth in MiB meanwhile."""
        target = self.start_upload(which, name)
        size = (self.root / name).stat().st_size
        with PeakRSS(self.pid) as memory:
            started = time.perf_counter()
            self.user.press_dialog("Upload")  # the large file warning
            deadline = started + 600
            while not (target.exists() and target.stat().st_size == size):
                assert time.perf_counter() < deadline, f"the {which} upload did not complete"
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
        tab = BROWSERS[which][0].removeprefix("#")
        self.user.page.wait_for_function(  # the browser is done with it too
            "id => ![...[...window.jupyterapp.shell.widgets('left')].find(w => w.id === id)"
            ".model.uploads()].length",
            arg=tab,
            timeout=120_000,
        )
        return elapsed, memory.growth_mib

    def cancelled_upload(self) -> float:
        """Seconds from pressing the Storage panel's cancel button, half-way through a
        1 GiB upload, until nothing of the upload remains in the folder."""
        target = self.start_upload("storage", "upload-1gib.bin")
        self.user.press_dialog("Upload")
        folder = target.parent
        deadline = time.perf_counter() + 300
        while staged_bytes(folder) < 512 * MiB:
            assert time.perf_counter() < deadline, "the upload to cancel did not start"
            time.sleep(0.02)
        started = time.perf_counter()
        self.user.page.click(
            "#fsspec-proxy-browser .jp-Toolbar-item[data-jp-item-name='cancel-uploads'] button"
        )
        while staged_bytes(folder) or target.exists():
            assert time.perf_counter() < started + 60, "the cancelled upload left files"
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        self.user.press_dialog(re.compile("Dismiss|Close|OK"))  # "... was cancelled"
        assert not target.exists()
        return elapsed

    def parquet(self, which: str) -> tuple[float, int]:
        """Seconds from double-clicking the 64 MiB Parquet file until its first rows
        show, and the bytes the page read of it."""
        selector = self.show(which)
        row = self.row(selector, "big.parquet")
        first = len(self.user.responses)
        started = time.perf_counter()
        row.dblclick()
        self.user.page.wait_for_selector(
            ".jp-fsspec-proxy-parquet .jp-fsspec-proxy-parquet-rows tbody tr", timeout=120_000
        )
        elapsed = time.perf_counter() - started
        reads = [  # the file's bytes (not its entry: api/info, api/contents)
            r for r in self.user.responses[first:] if "files/" in r.url and "big.parquet" in r.url
        ]
        assert reads and {r.status for r in reads} == {206}, [r.status for r in reads]
        read = sum(len(r.body()) for r in reads)
        self.user.reset()
        return elapsed, read


def note(timings: dict[str, list[float]], which: str, action: str, seconds: float) -> None:
    timings.setdefault(action, []).append(seconds)
    print(f"{which:10} {action:22} {seconds:8.3f} s", flush=True)


def staged_bytes(folder: Path) -> int:
    """The bytes of the uploads staged in ``folder`` (hidden beside their targets)."""
    total = 0
    for path in folder.glob(f"{STAGED_PREFIX}*"):
        with suppress(OSError):  # committed or removed meanwhile
            total += path.stat().st_size
    return total


@contextmanager
def server_tmpdir(folder: Path):
    """``TMPDIR`` for the servers started inside: where a server would spool."""
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        root, spool = home / "root", home / "server-tmp"
        root.mkdir()
        spool.mkdir()
        (root / "uploads").mkdir()
        make_data(root)
        config = home / "proxy.yaml"
        config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": str(root)}]}))
        options = [f"--ProxyManager.config_file={config}", "--LabApp.expose_app_in_browser=True"]
        results: dict[str, dict[str, list[float]]] = {}
        extra: dict[str, float] = {}
        with ExitStack() as stack:
            with server_tmpdir(spool):  # the server's, not Chromium's (its profile)
                lab = stack.enter_context(jupyter_app(home, *options))
            browser = stack.enter_context(chromium_sync())
            user = StorageBrowser(browser.context.new_page())
            user.start(f"{lab.url}lab?token={LAB_TOKEN}")
            bench = Bench(user, root, lab.process.pid)
            try:
                measure(bench, rounds, results, extra)
                gibibyte(bench, spool, extra)
            except Exception:
                failure = HERE / "results" / "lab-failure.png"
                failure.parent.mkdir(exist_ok=True)
                user.page.screenshot(path=failure)
                raise
    report(rounds, results, extra)


def measure(bench: Bench, rounds: int, results: dict, extra: dict) -> None:
    for round_number in range(rounds + 1):  # the first round warms up
        for which in BROWSERS:
            timings = results.setdefault(which, {}) if round_number else {}
            for name, folder in LISTINGS.items():
                seconds, longest = bench.listing(which, folder)
                note(timings, which, name, seconds)
                note(timings, which, f"{name}_longest_task", longest)
            note(timings, which, "open_csv_10mib", bench.open_csv(which))
            note(timings, which, "save_notebook_1mib", bench.save_notebook(which))
            seconds, growth = bench.upload(which)
            note(timings, which, "upload_256mib", seconds)
            extra[f"{which}_upload_256mib_rss_growth_mib"] = max(
                extra.get(f"{which}_upload_256mib_rss_growth_mib", 0.0), growth
            )
            seconds, read = bench.parquet(which)
            note(timings, which, "parquet_64mib_first_rows", seconds)
            extra[f"{which}_parquet_64mib_read_mib"] = read / MiB


def gibibyte(bench: Bench, spool: Path, extra: dict) -> None:
    """A 1 GiB upload through the Storage panel: its time, the server's memory and
    temporary folder at their peaks; then one cancelled half-way."""
    with Peak(lambda: folder_bytes(spool)) as spooled:
        seconds, growth = bench.upload("storage", "upload-1gib.bin")
    extra["storage_upload_1gib_s"] = seconds
    extra["storage_upload_1gib_rss_growth_mib"] = growth
    extra["storage_upload_1gib_spooled_mib"] = spooled.growth_mib
    print(f"storage    upload_1gib              {seconds:8.3f} s, server RSS +{growth:.0f} MiB")
    (bench.root / "uploads" / "upload-1gib.bin").unlink()
    extra["storage_cancel_1gib_cleared_s"] = bench.cancelled_upload()
    print(f"storage    cancel half-way, cleared {extra['storage_cancel_1gib_cleared_s']:8.3f} s")


def report(rounds: int, results: dict, extra: dict) -> None:
    best = {which: {k: min(v) for k, v in t.items()} for which, t in results.items()}
    print(f"{'action':32} {'JupyterLab s':>13} {'Storage s':>10} {'ratio':>6}")
    for action, local in best["jupyterlab"].items():
        storage = best["storage"][action]
        print(f"{action:32} {local:13.3f} {storage:10.3f} {storage / local:6.2f}")
    for name, value in extra.items():
        print(f"{name}: {value:.2f}")
    out = HERE / "results" / "lab.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rounds": rounds, "best_s": best, **extra}, indent=1))


if __name__ == "__main__":
    main()
