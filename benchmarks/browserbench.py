"""The client in the browser: fsspec-proxy-client in Pyodide (worker, main thread).

    bash scripts/setup.sh   # once: builds the wheels, installs Chromium and Pyodide
    python benchmarks/browserbench.py

Starts the standalone proxy (run mode, token) serving a 64 MiB file and the
browser harness, then measures, in one run, 4 KiB random range reads per
second and a whole 64 MiB read with the client in Pyodide beside the browser's
own ``fetch`` of the same bytes in the same context. (The client on CPython is
``clientbench.py``'s.) Saves benchmarks/results/browser.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import servers
import yaml

from jupyter_fsspec_proxy.testing.browser import build_site, chromium

HERE = Path(__file__).parent
MiB = 1 << 20
SIZE = 64 * MiB
RANGES = 500
ROUNDS = 3
TOKEN = servers.TOKEN

PYODIDE_BENCH = """
import json, random
import fsspec, js
from pyodide.ffi import create_once_callable, to_js

settings = json.loads(settings_json)
fs = fsspec.filesystem(
    "proxy", skip_instance_cache=True, endpoint_url=settings["url"], token=settings["token"]
)
path, size, n = "Bench/big.bin", settings["size"], settings["ranges"]
url = fs.endpoint_url + "files/" + path
offsets = [random.Random(1).randrange(0, size - 4096) for _ in range(n)]
now = lambda: js.performance.now() / 1000

def fetch_options(extra):
    headers = {"Authorization": "token " + settings["token"], **extra}
    return to_js({"headers": headers}, dict_converter=js.Object.fromEntries)

def client_ranges():
    start = now()
    for offset in offsets:
        assert len(fs.cat_file(path, offset, offset + 4096)) == 4096
    return n / (now() - start)

async def fetch_ranges():
    start = now()
    for offset in offsets:
        response = await js.fetch(url, fetch_options({"Range": f"bytes={offset}-{offset + 4095}"}))
        assert (await response.arrayBuffer()).byteLength == 4096
    return n / (now() - start)

def client_whole():
    start = now()
    assert len(fs.cat_file(path)) == size
    return size / 2**20 / (now() - start)

async def fetch_whole():
    start = now()
    body = await (await js.fetch(url, fetch_options({}))).arrayBuffer()
    assert body.byteLength == size
    return size / 2**20 / (now() - start)

def without_suspending(measure):
    # Called back from JavaScript, Python cannot suspend: the client uses XHR.
    return js.Function.new("f", "return f()")(create_once_callable(measure))

best = {}
def keep(name, value):
    best[name] = max(best.get(name, 0), value)

for _ in range(settings["rounds"]):  # alternating; the best of each
    keep("client_ranges", client_ranges())
    keep("fetch_ranges", await fetch_ranges())
    keep("client_whole", client_whole())
    keep("fetch_whole", await fetch_whole())
    keep("xhr_ranges", without_suspending(client_ranges))
    keep("xhr_whole", without_suspending(client_whole))
json.dumps(best)
"""


async def pyodide(origin: str, site: Path) -> dict[str, dict[str, float]]:
    wheels = [f"{origin}/static/harness/wheels/{w.name}" for w in sorted(site.glob("wheels/*"))]
    settings = {
        "url": f"{origin}/fsspec-proxy/",
        "token": TOKEN,
        "size": SIZE,
        "ranges": RANGES,
        "rounds": ROUNDS,
    }
    results = {}
    async with chromium() as browser:
        page = await browser.context.new_page()
        await page.goto(f"{origin}/static/harness/page.html")
        await page.wait_for_function("window.harnessReady === true")
        for name, runner in (
            ("Pyodide worker", "runInWorker"),
            ("Pyodide main", "runOnMainThread"),
        ):
            raw = await page.evaluate(
                f"([code, settings, wheels]) => window.{runner}(code, settings, wheels)",
                [PYODIDE_BENCH, settings, wheels],
            )
            results[name] = json.loads(raw)
        assert browser.outside(origin) == []
    return results


def measure() -> dict[str, dict[str, float]]:
    """Pyodide in a worker and on the main thread."""
    root = HERE.parent
    wheels = sorted((root / "dist" / "client").glob("*.whl"))
    wheels += sorted((root / "dist" / "wheels").glob("fsspec-*.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "big.bin").write_bytes(os.urandom(SIZE))
        site = build_site(Path(tmp) / "static" / "harness", wheels)
        config = Path(tmp) / "proxy.yaml"
        config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": str(data)}]}))
        static = f"--ServerApp.extra_static_paths={site.parent}"
        with servers.proxy(config, Path(tmp), static) as proxy:
            return asyncio.run(pyodide(f"http://127.0.0.1:{proxy.port}", site))


def describe(results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"{'client':<26} {'4 KiB reads/s':>14} {'baseline':>9} {'ratio':>6} "
        f"{'64 MiB MB/s':>12} {'baseline':>9} {'ratio':>6}"
    ]
    rows = []
    for name, row in results.items():
        rows.append((name, row["client_ranges"], row["client_whole"], row))
        if "xhr_ranges" in row:
            rows.append((f"{name} (XHR)", row["xhr_ranges"], row["xhr_whole"], row))
    for name, ranges, whole, row in rows:
        lines.append(
            f"{name:<26} {ranges:>14.0f} {row['fetch_ranges']:>9.0f} "
            f"{ranges / row['fetch_ranges']:>6.2f} {whole:>12.0f} "
            f"{row['fetch_whole']:>9.0f} {whole / row['fetch_whole']:>6.2f}"
        )
    lines.append(
        "baseline: the browser's fetch(); the client's fetch is awaited with JSPI; (XHR): "
        "the fallback, called where Python cannot suspend"
    )
    return "\n".join(lines)


def main() -> None:
    results = measure()
    print(describe(results))
    servers.save("browser", results)


if __name__ == "__main__":
    main()
