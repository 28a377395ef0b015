"""A PyScript page on one local origin, the standalone proxy on another."""

from __future__ import annotations

import json

import pytest
from tornado.web import Application, StaticFileHandler

from jupyter_fsspec_proxy.testing.browser import chromium
from jupyter_fsspec_proxy.testing.processes import free_port
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.browser

TOKEN = "cross-origin-token"


@pytest.fixture
def page_origin(browser_site, io_loop):
    """The page's own origin: a plain static file server on another port."""
    port = free_port()
    server = Application([(r"/(.*)", StaticFileHandler, {"path": str(browser_site)})]).listen(
        port, "127.0.0.1"
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()


CASES = {
    "private": (["private"], None, True),
    "run, origin allowed": (["run", "--ProxyManager.allowed_origins={origin}"], TOKEN, True),
    "run, origin not allowed": (["run"], TOKEN, False),
}


@pytest.mark.parametrize("case", CASES)
async def test_cross_origin_page(case, page_origin, tmp_path):
    args, token, allowed = CASES[case]
    args = [arg.format(origin=page_origin) for arg in args]
    if args[0] == "run":
        args.append(f"--IdentityProvider.token={TOKEN}")
    with standalone(tmp_path, *args) as proxy:
        proxy_url = f"http://127.0.0.1:{proxy.port}/fsspec-proxy/"
        query = f"?proxy={proxy_url}" + (f"&token={token}" if token else "")
        async with chromium() as browser:
            page = await browser.context.new_page()
            await page.goto(f"{page_origin}/crossorigin.html{query}")
            await page.wait_for_function(
                "document.getElementById('result').textContent !== 'running'", timeout=60_000
            )
            report = json.loads(await page.inner_text("#result"))
            others = [u for u in browser.outside(page_origin) if not u.startswith(proxy_url)]
            assert others == []
        written = tmp_path / "data" / "cross.txt"
        if allowed:
            assert report == {"read": "from another origin", "listing": ["Local/cross.txt"]}
            assert written.read_bytes() == b"from another origin"
        else:
            # No CORS grant: the browser refuses, and the client says what that means.
            assert report["error"].startswith("ConnectionError: PUT " + proxy_url)
            assert "origin (CORS)" in report["error"]
            assert not written.exists()
