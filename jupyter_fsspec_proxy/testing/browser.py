"""Headless Debian Chromium through Playwright, offline, recording every request."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright
from playwright.sync_api import sync_playwright

from ..offline import copy_app_modules, localize
from . import CHECKOUT, TESTS

CHROMIUM = "/usr/bin/chromium"
#: A JavaScript function: the promise ``work``, or an error saying that ``what`` did not
#: end in ``seconds`` (``page.evaluate`` has no timeout of its own).
WITHIN = """(work, seconds, what) => Promise.race([work, new Promise((_, refuse) =>
  setTimeout(() => refuse(new Error(`${what} did not end in ${seconds} s`)), seconds * 1000))])"""
DEAD = "http://127.0.0.1:9/"
# Chromium's own background traffic goes to a dead loopback port; names never resolve.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--component-updater=url-source={DEAD}",
    *(f"--{name}={DEAD}" for name in ("gaia-url", "google-apis-url", "lso-url", "google-url")),
    f"--autofill-server-url={DEAD}",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@dataclass
class Browser:
    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def outside(self, origin: str) -> list[str]:
        """Requests that went anywhere but ``origin`` (data: and blob: URLs are local)."""
        local = (origin, "data:", "blob:")
        return [url for url in self.requests if not url.startswith(local)]


def _recording(context) -> Browser:
    record = Browser(context)
    context.on("request", lambda request: record.requests.append(request.url))
    context.on("console", lambda message: record.console.append(message.text))
    return record


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield _recording(await browser.new_context())
        finally:
            await browser.close()


@contextmanager
def chromium_sync() -> Iterator[Browser]:
    """The same, for tests that share one browser across a module (Playwright's
    synchronous API: no event loop to share between tests)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield _recording(browser.new_context())
        finally:
            browser.close()


def built_wheels() -> list[Path]:
    """The client wheel and the wheels Pyodide needs, as scripts/test.sh leaves them."""
    root = CHECKOUT / "dist"
    found = sorted((root / "client").glob("*.whl")) + sorted((root / "wheels").glob("*.whl"))
    names = {wheel.name.split("-")[0] for wheel in found}
    missing = {"fsspec_proxy_client", "fsspec", "micropip", "packaging", "ipython", "comm"} - names
    if missing:
        raise RuntimeError(f"missing wheels {sorted(missing)}: run scripts/test.sh")
    return found


def build_site(target: Path, wheels: list[Path]) -> Path:
    """The harness pages, the npm Pyodide and PyScript, the app's npm modules (in
    ``npm/``, as ``jupyter fsspec-proxy offline`` lays them out), and the given wheels.

    Wheels of packages that Pyodide's lock names (micropip, packaging, fsspec)
    also go next to Pyodide, with the lock rewritten to them, so that
    ``loadPackage("micropip")`` and PyScript's ``packages`` work offline.
    """
    target.mkdir(parents=True, exist_ok=True)
    modules = TESTS / "browser" / "node_modules"
    shutil.copytree(modules / "pyodide", target / "pyodide")
    shutil.copytree(modules / "@pyscript" / "core" / "dist", target / "pyscript")
    copy_app_modules(modules, target / "npm")
    for name in ("page.html", "runner.mjs", "worker.mjs", "crossorigin.html"):
        shutil.copy(TESTS / "browser" / name, target / name)
    (target / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy(wheel, target / "wheels" / wheel.name)
    localize(target / "pyodide", wheels)
    client = next(w.name for w in wheels if w.name.startswith("fsspec_proxy_client-"))
    config = {"interpreter": "./pyodide/pyodide.mjs", "packages": [f"./wheels/{client}"]}
    (target / "crossorigin.json").write_text(json.dumps(config))
    return target


def npm_folder(folder: Path) -> Path:
    """``folder`` with the npm packages the docs install in it (here the suite's own
    ``npm ci``)."""
    folder.mkdir(exist_ok=True)
    if not (folder / "node_modules").exists():
        (folder / "node_modules").symlink_to(TESTS / "browser" / "node_modules")
    return folder


def offline_folder(folder: Path, *options: str) -> Path:
    """``folder`` made as the docs say: the npm packages in it, then ``jupyter
    fsspec-proxy offline FOLDER``, run from its parent."""
    npm_folder(folder)
    command = [sys.executable, "-m", "jupyter", "fsspec-proxy", "offline", folder.name, *options]
    subprocess.run(command, check=True, cwd=folder.parent, capture_output=True, timeout=300)
    return folder
