"""JupyterLite served by the proxy's Jupyter server: zero-configuration access
from a Pyodide kernel, offline, with the session's cookie and XSRF token."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import s3fs

from jupyter_fsspec_proxy.testing import CHECKOUT
from jupyter_fsspec_proxy.testing.browser import WITHIN, chromium, npm_folder, offline_folder
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, BUCKET, SECRET, s3_kwargs

pytestmark = pytest.mark.browser

ARTIFACTS = CHECKOUT / "test-artifacts"
BASE_URL = "/a%40b/"  # not the root: discovery must find it from the kernel's URL
# page.evaluate has no timeout: a kernel that never answers fails the cell in
# CELL_SECONDS, saying so, rather than holding the test until pytest's timeout.
CELL_SECONDS = 120
# Runs a cell through the REPL's kernel and returns its output (window.jupyterapp
# is exposed by the site's exposeAppInBrowser setting).
EXECUTE = f"""async ([code, seconds]) => ({WITHIN})((async () => {{
  const context = window.jupyterapp.shell.currentWidget.console.sessionContext;
  await context.ready;
  const future = context.session.kernel.requestExecute({{ code, stop_on_error: true }});
  const out = [];
  future.onIOPub = ({{ header, content }}) => {{
    if (header.msg_type === "stream") out.push(content.text);
    if (header.msg_type === "error") out.push(`ERROR ${{content.ename}}: ${{content.evalue}}`);
    if (header.msg_type === "execute_result") out.push(content.data["text/plain"]);
  }};
  await future.done;
  return out.join("");
}})(), seconds, `the cell ${{JSON.stringify(code.slice(0, 40))}}`)"""
# Runs a cell visibly, through the console's prompt (for the screenshot).
SHOW = f"""async ([code, seconds]) => ({WITHIN})((async () => {{
  const console = window.jupyterapp.shell.currentWidget.console;
  console.promptCell.model.sharedModel.setSource(code);
  await console.execute(true);
}})(), seconds, "the console's cell")"""


@pytest.fixture(scope="module")
def lite_site(tmp_path_factory) -> Path:
    """A JupyterLite REPL site made offline as docs/jupyterlite.md says: the npm
    packages (here the suite's own npm install), ``jupyter fsspec-proxy offline``,
    then ``jupyter lite build``."""
    root = tmp_path_factory.mktemp("lite")
    source = root / "lite-source"
    source.mkdir()
    # for the tests: window.jupyterapp, to drive the REPL
    expose = {"jupyter-config-data": {"exposeAppInBrowser": "true"}}
    (source / "jupyter-lite.json").write_text(json.dumps(expose))
    offline_folder(source, f"--base-url={BASE_URL}")
    build = [sys.executable, "-m", "jupyter", "lite", "build", "--apps", "repl"]
    build += ["--lite-dir", "lite-source", "--output-dir", "lite-site"]
    subprocess.run(build, check=True, cwd=root, capture_output=True, timeout=300)
    return root / "lite-site"


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


@pytest.fixture
def extension_config(lite_site) -> dict:
    return {"lite_dir": str(lite_site)}


async def test_jupyterlite_kernel_reaches_storage_with_no_configuration(
    jp_serverapp,
    http_server,
    jp_http_port,
    jp_base_url,
    jp_fetch,
    local_root,
    s3_endpoint,
    s3_prefix,
):
    origin = f"http://127.0.0.1:{jp_http_port}"
    token = jp_serverapp.identity_provider.token
    ARTIFACTS.mkdir(exist_ok=True)
    async with chromium() as browser:
        responses = []
        browser.context.on("response", lambda response: responses.append(response))
        page = await browser.context.new_page()
        await page.goto(f"{origin}{jp_base_url}fsspec-proxy/api?token={token}")  # log in
        opened = time.perf_counter()
        await page.goto(f"{origin}{jp_base_url}fsspec-proxy/lite/")  # the landing page
        await page.wait_for_function("window.jupyterapp?.shell.currentWidget", timeout=60_000)
        assert page.url == f"{origin}{jp_base_url}fsspec-proxy/lite/repl/index.html"
        await page.click(".jp-Dialog .jp-mod-accept")  # Select: Python (Pyodide) is preselected

        async def run(code: str) -> str:
            return await page.evaluate(EXECUTE, [code, CELL_SECONDS])

        # fsspec imported before the install: its entry points are read already, so
        # importing the client is what registers the protocol.
        assert "ERROR" not in await run("import fsspec")
        assert "ERROR" not in await run("%pip install fsspec-proxy-client")
        listing = await run(
            "import fsspec_proxy_client\n"
            "with fsspec.open('proxy://Scratch/lite.txt', 'w') as f:\n"
            "    f.write('hello from JupyterLite')\n"
            "fs = fsspec.filesystem('proxy')\n"
            "print(fs.endpoint_url, fs.ls('Scratch', detail=False))"
        )
        first_listing = time.perf_counter() - opened
        assert listing.split() == [
            f"{origin}{jp_base_url}fsspec-proxy/",
            "['Scratch/lite.txt']",
        ]
        read_back = await run(
            "print(fs.cat('Scratch/lite.txt').decode())\n"
            "fs.pipe_file('Local/from-lite.bin', bytes(range(256)))\n"
            "fs.pipe_file('S3/from-lite.txt', b'into the bucket')\n"
            "print(fs.cat('S3/from-lite.txt'))"
        )
        assert read_back.split("\n")[:2] == ["hello from JupyterLite", "b'into the bucket'"]
        # The session's cookie alone does not write: XSRF protection, from the worker.
        forged = await run(
            "url = fs.endpoint_url + 'files/Scratch/forged.txt'\n"
            "r = fs.transport.request('PUT', url, {}, b'x')\n"
            "print(r.status, fs.exists('Scratch/forged.txt'))"
        )
        assert forged.split() == ["403", "False"]
        seen_by_kernel = await run("print(repr(vars(fs)), fs.sources())")
        await page.evaluate(SHOW, ["fs.ls('Scratch')", CELL_SECONDS])
        await page.wait_for_selector(".jp-OutputArea-output:has-text('Scratch/lite.txt')")
        await page.screenshot(path=ARTIFACTS / "jupyterlite-repl.png")
        page_html = await page.content()
        assert browser.outside(origin) == [], browser.outside(origin)
        received = []  # (url, headers, body) of every response, the worker's included
        for response in responses:
            try:
                body = await response.body()
            except Exception:  # redirects and aborted requests have no body
                body = b""
            received.append((response.url, json.dumps(await response.all_headers()), body))

    (ARTIFACTS / "jupyterlite-timings.json").write_text(
        json.dumps({"page_open_to_first_listing_s": first_listing})
    )
    scratch = await jp_fetch("fsspec-proxy", "files", "Scratch", "lite.txt")
    assert scratch.body == b"hello from JupyterLite"
    assert (local_root / "from-lite.bin").read_bytes() == bytes(range(256))
    bucket = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    assert bucket.cat(f"{s3_prefix}/from-lite.txt") == b"into the bucket"
    assert s3_prefix.startswith(BUCKET)

    for secret in (SECRET, ACCESS_KEY):
        assert secret not in page_html
        assert secret not in seen_by_kernel
        for url, headers, body in received:
            assert secret.encode() not in body, url
            assert secret not in headers, url


def documented(prefixes: tuple[str, ...]) -> list[str]:
    """The lines of docs/jupyterlite.md's offline block that start with ``prefixes``."""
    page = (CHECKOUT / "docs" / "jupyterlite.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", page, re.S) if "offline" in b)
    return [line for line in block.splitlines() if line.startswith(prefixes)]


def test_a_site_rebuilt_from_the_same_folder_keeps_its_offline_settings(tmp_path):
    """The docs' offline and build lines, run twice in one folder, the second time
    into an emptied site: JupyterLite's build cache must not cost the site the
    proxy's index, the PyPI switch or the landing page."""
    commands = documented(("jupyter fsspec-proxy offline", "jupyter lite build"))
    assert len(commands) == 2
    npm_folder(tmp_path / "lite-source")
    for attempt in range(2):
        shutil.rmtree(tmp_path / "lite-site", ignore_errors=True)
        for command in commands:
            subprocess.run(command, shell=True, check=True, cwd=tmp_path, capture_output=True)
        site = json.loads((tmp_path / "lite-site" / "jupyter-lite.json").read_text())
        data = site["jupyter-config-data"]
        kernel = data["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
        assert kernel["disablePyPIFallback"] is True, attempt
        assert "/fsspec-proxy/client/all.json" in kernel["pipliteUrls"], attempt
        assert data["appUrl"] == "./repl", attempt
        assert (tmp_path / "lite-site" / "repl" / "index.html").is_file()
