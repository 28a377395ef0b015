"""Headless Debian Chromium through Playwright, offline, recording every request."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
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


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context()
        record = Browser(context)
        context.on("request", lambda request: record.requests.append(request.url))
        context.on("console", lambda message: record.console.append(message.text))
        try:
            yield record
        finally:
            await browser.close()


def build_site(target: Path, wheels: list[Path]) -> Path:
    """The harness pages, the npm Pyodide and the given wheels in one directory."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HERE / "browser" / "node_modules" / "pyodide", target / "pyodide")
    for name in ("page.html", "runner.mjs", "worker.mjs"):
        shutil.copy(HERE / "browser" / name, target / name)
    (target / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy(wheel, target / "wheels" / wheel.name)
    return target
