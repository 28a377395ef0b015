"""fsspec-proxy-client in Pyodide, in real headless Chromium, against a real Jupyter server.

The pages, Pyodide (from npm) and the wheels are served by the same Jupyter
server as the proxy; the test fails if the page requests any other origin.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import ANY

import pytest

from jupyter_fsspec_proxy.testing import TESTS
from jupyter_fsspec_proxy.testing.browser import WITHIN, built_wheels, chromium

pytestmark = pytest.mark.browser

SCENARIO = (TESTS / "browser" / "scenario.py").read_text()
SCENARIO_SECONDS = 200  # Pyodide's start included; pytest's timeout is 300 s


def wheels() -> list[Path]:
    """What the scenario loads by URL: the client and fsspec."""
    return [w for w in built_wheels() if w.name.startswith(("fsspec_proxy_client-", "fsspec-"))]


@pytest.fixture
def jp_base_url() -> str:
    return "/"


@pytest.fixture
def jp_server_config(jp_server_config, browser_site):
    jp_server_config["ServerApp"]["extra_static_paths"] = [str(browser_site.parent)]
    return jp_server_config


@pytest.mark.parametrize("where", ["worker", "main"])
async def test_client_scenario_in_pyodide(where, jp_serverapp, http_server, jp_http_port, jp_fetch):
    origin = f"http://127.0.0.1:{jp_http_port}"
    token = jp_serverapp.identity_provider.token
    wheel_urls = [f"{origin}/static/harness/wheels/{w.name}" for w in wheels()]
    if where == "worker":  # zero configuration: the session's cookie and XSRF token
        settings = {"folder": where, "kwargs": {}}
    else:
        settings = {
            "folder": where,
            "kwargs": {"endpoint_url": f"{origin}/fsspec-proxy/", "token": token},
        }

    async with chromium() as browser:
        page = await browser.context.new_page()
        await page.goto(f"{origin}/fsspec-proxy/api?token={token}")  # logs in: sets the cookie
        await page.goto(f"{origin}/static/harness/page.html")
        await page.wait_for_function("window.harnessReady === true")
        runner = "runInWorker" if where == "worker" else "runOnMainThread"
        # page.evaluate has no timeout: a scenario that never ends fails here, in
        # SCENARIO_SECONDS, not at pytest's timeout with nothing said
        raw = await page.evaluate(
            f"([code, settings, wheels, seconds]) => ({WITHIN})("
            f"window.{runner}(code, settings, wheels), seconds, 'the scenario')",
            [SCENARIO, settings, wheel_urls, SCENARIO_SECONDS],
        )
        assert browser.outside(origin) == [], browser.outside(origin)

    report = json.loads(raw)
    assert report["worker"] is (where == "worker")
    assert report["transport"] == "XHRTransport"
    assert report["url"] == f"{origin}/fsspec-proxy/"
    assert report["whole"] and report["seek_read"] and report["ranges"]
    assert report["range"] == list(range(232, 242))  # bytes 1000..1009 of range(256) * n
    assert report["text"] == "written from pyodide"
    # The login cookie alone (no token, no X-XSRFToken) does not authorize a write.
    assert report["write_without_xsrf"] == 403
    assert report["forged_exists"] is False
    assert report["fetch"] == {"suspends": True, "whole": True, "mib_seconds": ANY}
    assert report["xhr"] == {"suspends": False, "whole": True, "mib_seconds": ANY}
    assert report["async_transport"] == "AsyncXHRTransport"
    assert report["upload_progress"] == [len(b"\0" * 2**20)] * 2 and report["uploaded"]
    assert report["async_pending"] and report["async_whole"]
    assert f"Scratch/{where}/async.txt" in report["async_ls"]
    assert report["listing"] == [f"Scratch/{where}/data.bin", f"Scratch/{where}/note.txt"]
    assert report["after_rm"] == [f"Scratch/{where}/kept.txt", f"Scratch/{where}/note.txt"]
    arrived = await jp_fetch("fsspec-proxy", "files", "Scratch", where, "kept.txt")
    assert arrived.body == b"arrived"
