"""The Storage drive in JupyterLite sites built with ``jupyter lite build`` (which
takes the installed extension): served by the proxy (same origin, nothing to
configure), and on another origin, logged in with a token the user types."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from jupyter_fsspec_proxy.testing import CHECKOUT
from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.lab import (  # noqa: F401 - jp_*: fixtures
    LAB_TOKEN,
    StorageBrowser,
    jp_asyncio_loop,
    jp_server_cleanup,
)
from jupyter_fsspec_proxy.testing.processes import free_port, wait_until
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, SECRET
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.browser

DOC = Path(__file__).parents[1] / "docs" / "jupyterlab.md"
ARTIFACTS = CHECKOUT / "test-artifacts"
CROSS_TOKEN = "lite-cross-origin-token"
EXPOSE_APP = {"exposeAppInBrowser": "true"}  # for the tests: window.jupyterapp


def documented_build() -> list[str]:
    """The ``jupyter lite build`` line of docs/jupyterlab.md, as arguments."""
    [line] = [
        line for line in DOC.read_text().splitlines() if line.startswith("jupyter lite build")
    ]
    return line.split("#")[0].split()


@pytest.fixture(autouse=True)
def artifacts() -> None:
    ARTIFACTS.mkdir(exist_ok=True)


def build_site(root: Path, config: dict, overrides: dict | None = None) -> Path:
    """A site built as the docs say: the documented command, run in a folder holding
    ``jupyter-lite.json`` (and ``overrides.json``)."""
    source = root / "lite-source"
    source.mkdir()
    (source / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": config}))
    if overrides:
        (source / "overrides.json").write_text(json.dumps(overrides))
    command = [sys.executable, "-m", *documented_build()]
    subprocess.run(command, check=True, cwd=source, capture_output=True, timeout=300)
    site = source / command[command.index("--output-dir") + 1]
    assert (site / "extensions" / "jupyter-fsspec-proxy" / "package.json").exists()
    return site


@pytest.fixture
def browser():
    """A browser per test: each proves that its pages go nowhere else."""
    with chromium_sync() as running:
        yield running


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lite-data")
    (folder / "notes.txt").write_text("from the storage\n")
    table = pa.table({"city": ["Paris", "Lyon", "Nice"], "people": [2102650, 522250, 348085]})
    pq.write_table(table, folder / "cities.parquet", row_group_size=2)
    return folder


def sources_file(folder: Path, data: Path) -> Path:
    config = folder / "proxy.yaml"
    sources = [
        {"name": "Local", "path": str(data), "kwargs": {"password": ACCESS_KEY}},
        {"name": "Scratch", "path": "memory://lite-scratch", "kwargs": {"token": SECRET}},
    ]
    config.write_text(yaml.safe_dump({"sources": sources}))
    return config


def edit_and_save(user: StorageBrowser, data: Path) -> None:
    user.go("Local")
    user.edit("notes.txt", "from the storage", "and from JupyterLite")
    wait_until(lambda: "JupyterLite" in (data / "notes.txt").read_text(), "the save")
    (data / "notes.txt").write_text("from the storage\n")


def open_parquet(user: StorageBrowser) -> None:
    """Double-click the Parquet file of the folder shown: its table, read by ranges."""
    user.row("cities.parquet").dblclick()
    rows = ".jp-fsspec-proxy-parquet .jp-fsspec-proxy-parquet-rows tbody tr"
    user.page.wait_for_selector(rows)
    first = user.page.locator(rows).first.locator("th, td").all_inner_texts()
    assert first == ["0", "Paris", "2102650"]
    status = user.page.inner_text(".jp-fsspec-proxy-parquet-status")
    assert status.startswith("3 rows · 2 row groups · 2 columns")
    reads = [r for r in user.responses if "files/Local/cities.parquet" in r.url]
    assert reads and {r.status for r in reads} == {206}


def test_a_site_served_by_the_proxy_needs_no_configuration(tmp_path, browser, data):
    site = build_site(tmp_path, EXPOSE_APP)
    sources_file(tmp_path, data)
    options = [f"--IdentityProvider.token={LAB_TOKEN}", f"--FsspecProxy.lite_dir={site}"]
    with standalone(tmp_path, "run", *options) as proxy:
        origin = f"http://127.0.0.1:{proxy.port}"
        user = StorageBrowser(browser.context.new_page())
        user.page.goto(f"{origin}/fsspec-proxy/api?token={LAB_TOKEN}")  # the login cookie
        user.start(f"{origin}/fsspec-proxy/lite/lab/index.html")
        user.go()
        user.wait_for_names(["Local", "Scratch"])
        edit_and_save(user, data)
        open_parquet(user)
        assert user.responses_holding(SECRET, ACCESS_KEY) == []
        assert browser.outside(origin) == []


@pytest.mark.parametrize("configured_by", ["jupyter-config-data", "overrides.json"])
def test_a_site_on_another_origin_logs_in_with_a_token_the_user_types(
    configured_by, tmp_path, browser, data
):
    proxy_port = free_port()
    proxy_url = f"http://127.0.0.1:{proxy_port}/fsspec-proxy/"
    if configured_by == "jupyter-config-data":
        site = build_site(tmp_path, {**EXPOSE_APP, "fsspecProxyUrl": proxy_url})
    else:
        setting = {"jupyter-fsspec-proxy:plugin": {"url": proxy_url}}
        site = build_site(tmp_path, EXPOSE_APP, overrides=setting)
    with site_server(site) as site_origin:
        sources_file(tmp_path, data)
        options = [f"--IdentityProvider.token={CROSS_TOKEN}"]
        options.append(f"--ProxyManager.allowed_origins={site_origin}")
        with standalone(tmp_path, "run", *options, port=proxy_port):
            user = StorageBrowser(browser.context.new_page())
            user.start(f"{site_origin}/lab/index.html")
            assert "needs a token" in user.dialog_text()  # the panel's first listing
            if configured_by == "jupyter-config-data":
                user.page.screenshot(path=ARTIFACTS / "jupyterlite-login.png")
            user.page.fill(".jp-fsspec-proxy-login input", "a wrong token")
            user.press_dialog("Log In")
            assert "refused the token" in user.dialog_text()
            user.page.fill(".jp-fsspec-proxy-login input", CROSS_TOKEN)
            user.press_dialog("Log In")
            user.show()
            user.wait_for_names(["Local", "Scratch"])
            if configured_by == "jupyter-config-data":
                user.page.screenshot(path=ARTIFACTS / "jupyterlite-storage.png")
            if configured_by == "jupyter-config-data":
                edit_and_save(user, data)
                open_parquet(user)  # ranges from another origin, with the token
            # the token stays in this tab, never in the site or the page's storage
            assert user.page.evaluate("JSON.stringify(localStorage)").count(CROSS_TOKEN) == 0
            kept = user.page.evaluate("JSON.stringify(sessionStorage)")
            assert CROSS_TOKEN in kept
            assert user.responses_holding(SECRET, ACCESS_KEY, CROSS_TOKEN) == []
            user.page.close()
    served = [p for p in site.rglob("*") if p.is_file() and CROSS_TOKEN.encode() in p.read_bytes()]
    assert served == []
    others = [u for u in browser.outside(site_origin) if not u.startswith(proxy_url)]
    assert others == []


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def site_server(site: Path) -> Iterator[str]:
    """A plain static file server for ``site`` on another port: another origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
