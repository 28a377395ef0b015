"""The Storage panel against JupyterLab's own file browser on the same files.

    python benchmarks/lab.py [--rounds 3]     # by hand; starts its own JupyterLab

One JupyterLab (from PyPI, the extension as installed) whose root folder is also the
proxy's source "Bench", one Chromium page. Each action is timed in both browsers,
alternating, best of the rounds: the time from double-clicking a folder of 1,000
(and 10,000) files until its rows are shown, opening a 10 MiB CSV until the grid has
its rows, saving a 1 MiB notebook (the document's save: JupyterLab's check for a
change on disk, the write, the check after), and uploading 256 MiB through the
upload button until the file is complete on disk. Prints seconds and the ratio
Storage / JupyterLab; writes benchmarks/results/lab.json.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import yaml

from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.lab import LAB_TOKEN, StorageBrowser, jupyter_app
from jupyter_fsspec_proxy.testing.processes import PeakRSS

HERE = Path(__file__).parent
MiB = 1024 * 1024
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
    with (root / "upload.bin").open("wb") as out:
        for _ in range(256):
            out.write(bytes(range(256)) * 4096)


class Bench:
    def __init__(self, user: StorageBrowser, root: Path, pid: int) -> None:
        self.user, self.root, self.pid = user, root, pid

    def show(self, which: str, folder: str = "") -> str:
        """Open ``which`` browser's panel at ``folder`` (relative to the data root)."""
        selector, prefix = BROWSERS[which]
        page = self.user.page
        tab = "filebrowser" if which == "jupyterlab" else "fsspec-proxy-browser"
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

    def listing(self, which: str, folder: str) -> float:
        selector = self.show(which)
        count = len(list((self.root / folder).iterdir()))
        row = self.row(selector, folder)
        started = time.perf_counter()
        row.dblclick()
        self.user.page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s + ' .jp-DirListing-item').length === n",
            arg=[selector, count],
            timeout=120_000,
        )
        return time.perf_counter() - started

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
        seconds = self.user.page.evaluate(
            "async () => { const context = window.jupyterapp.shell.currentWidget.context;"
            " await context.ready; const started = performance.now();"
            " await context.save(); return (performance.now() - started) / 1000; }"
        )
        self.user.reset()
        return seconds

    def upload(self, which: str) -> tuple[float, float]:
        """Seconds until the 256 MiB file is complete on disk, and the server's RSS
        growth in MiB meanwhile."""
        selector = self.show(which, "uploads")
        target = self.root / "uploads" / "upload.bin"
        target.unlink(missing_ok=True)
        page = self.user.page
        with page.expect_file_chooser() as chooser:
            page.click(f"{selector} .jp-Toolbar-item[data-jp-item-name='uploader'] button")
        chooser.value.set_files(self.root / "upload.bin")
        with PeakRSS(self.pid) as memory:
            started = time.perf_counter()
            self.user.press_dialog("Upload")  # the large file warning
            deadline = started + 600
            while not (target.exists() and target.stat().st_size == 256 * MiB):
                assert time.perf_counter() < deadline, f"the {which} upload did not complete"
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
        page.wait_for_function("!document.querySelector('.jp-DirListing-item.jp-mod-running')")
        return elapsed, memory.growth_mib


def note(timings: dict[str, list[float]], which: str, action: str, seconds: float) -> None:
    timings.setdefault(action, []).append(seconds)
    print(f"{which:10} {action:22} {seconds:8.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        root = home / "root"
        root.mkdir()
        (root / "uploads").mkdir()
        make_data(root)
        config = home / "proxy.yaml"
        config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": str(root)}]}))
        options = [f"--ProxyManager.config_file={config}", "--LabApp.expose_app_in_browser=True"]
        results: dict[str, dict[str, list[float]]] = {}
        memory: dict[str, float] = {}
        with jupyter_app(home, *options) as lab, chromium_sync() as browser:
            user = StorageBrowser(browser.context.new_page())
            user.start(f"{lab.url}lab?token={LAB_TOKEN}")
            bench = Bench(user, root, lab.process.pid)
            try:
                measure(bench, rounds, results, memory)
            except Exception:
                failure = HERE / "results" / "lab-failure.png"
                failure.parent.mkdir(exist_ok=True)
                user.page.screenshot(path=failure)
                raise
    report(rounds, results, memory)


def measure(bench: Bench, rounds: int, results: dict, memory: dict) -> None:
    for _ in range(rounds):
        for which in BROWSERS:
            timings = results.setdefault(which, {})
            for name, folder in LISTINGS.items():
                note(timings, which, name, bench.listing(which, folder))
            note(timings, which, "open_csv_10mib", bench.open_csv(which))
            note(timings, which, "save_notebook_1mib", bench.save_notebook(which))
            seconds, growth = bench.upload(which)
            note(timings, which, "upload_256mib", seconds)
            memory[which] = max(memory.get(which, 0.0), growth)


def report(rounds: int, results: dict, memory: dict) -> None:
    best = {which: {k: min(v) for k, v in t.items()} for which, t in results.items()}
    print(f"{'action':22} {'JupyterLab s':>13} {'Storage s':>10} {'ratio':>6}")
    for action, local in best["jupyterlab"].items():
        storage = best["storage"][action]
        print(f"{action:22} {local:13.3f} {storage:10.3f} {storage / local:6.2f}")
    for which, growth in memory.items():
        print(f"server RSS growth during the {which} upload: {growth:.0f} MiB")
    out = HERE / "results" / "lab.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rounds": rounds, "best_s": best, "rss_mib": memory}, indent=1))


if __name__ == "__main__":
    main()
