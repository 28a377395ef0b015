"""The server serves the client wheel it was built with, and a JupyterLite site."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import fsspec
import pytest

from jupyter_fsspec_proxy import __version__
from jupyter_fsspec_proxy.testing.calls import body_json

WHEEL = f"fsspec_proxy_client-{__version__}-py3-none-any.whl"


async def test_wheel_of_the_same_version(proxy):
    response = await proxy("client", WHEEL)
    assert response.code == 200
    with zipfile.ZipFile(io.BytesIO(response.body)) as wheel:
        metadata = wheel.read(f"fsspec_proxy_client-{__version__}.dist-info/METADATA").decode()
        entry_points = wheel.read(
            f"fsspec_proxy_client-{__version__}.dist-info/entry_points.txt"
        ).decode()
    assert f"Version: {__version__}" in metadata
    assert "proxy = fsspec_proxy_client:ProxyFileSystem" in entry_points
    assert (await proxy("client", "other-1.0-py3-none-any.whl")).code == 404


async def test_simple_index_html_and_json(proxy):
    wheel = (await proxy("client", WHEEL)).body
    digest = hashlib.sha256(wheel).hexdigest()

    root = (await proxy("client", "simple/")).body.decode()
    assert '<a href="fsspec-proxy-client/">fsspec-proxy-client</a>' in root
    page = (await proxy("client", "simple", "fsspec-proxy-client/")).body.decode()
    assert re.search(rf'href="../../{re.escape(WHEEL)}#sha256={digest}"', page)

    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    listing = body_json(await proxy("client", "simple", "fsspec-proxy-client/", headers=accept))
    assert listing["files"] == [
        {"filename": WHEEL, "url": f"../../{WHEEL}", "hashes": {"sha256": digest}}
    ]
    assert (await proxy("client", "simple", "numpy/")).code == 404


async def test_piplite_index_for_jupyterlite(proxy):
    digest = hashlib.sha256((await proxy("client", WHEEL)).body).hexdigest()
    index = body_json(await proxy("client", "all.json"))
    [release] = index["fsspec-proxy-client"]["releases"][__version__]
    assert release["url"] == f"./{WHEEL}"  # next to all.json: client/<wheel>
    assert release["digests"] == {"sha256": digest}


async def test_the_wheels_and_their_index_need_no_login_and_nothing_else_is_public(raw):
    """pip and PyScript's loader send no token: the index is public, the rest is not."""
    page = (await raw("client/simple/fsspec/", auth=False)).body.decode()
    fsspec_wheel = re.search(r'href="\.\./\.\./([^"#]+)#sha256=(\w+)"', page)
    assert fsspec_wheel and fsspec_wheel[1] == f"fsspec-{fsspec.__version__}-py3-none-any.whl"
    wheel = await raw(f"client/{fsspec_wheel[1]}", auth=False)
    assert hashlib.sha256(wheel.body).hexdigest() == fsspec_wheel[2]
    with zipfile.ZipFile(io.BytesIO(wheel.body)) as repacked:
        assert "fsspec/spec.py" in repacked.namelist()
        assert not [name for name in repacked.namelist() if name.endswith(".pyc")]
    for path in (f"client/{WHEEL}", "client/simple/", "client/all.json"):
        assert (await raw(path, auth=False)).code == 200, path
    for path in ("api/sources", "api/ls/Scratch", "files/Scratch/x", "api/xsrf"):
        assert (await raw(path, auth=False)).code == 403, path


@pytest.fixture
def lite_site(tmp_path):
    site = tmp_path / "lite"
    (site / "lab").mkdir(parents=True)
    (site / "index.html").write_text("<title>lite</title>")
    (site / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {}}))
    return site


@pytest.fixture
def extension_config(lite_site):
    return {"lite_dir": str(lite_site)}


async def test_lite_dir_is_served_to_logged_in_users(proxy, raw):
    index = await proxy("lite/")
    assert index.code == 200
    assert index.body == b"<title>lite</title>"
    assert "sandbox" not in index.headers.get("Content-Security-Policy", "")
    assert body_json(await proxy("lite", "jupyter-lite.json")) == {"jupyter-config-data": {}}
    assert (await proxy("lite", "missing.js")).code == 404
    assert (await raw("lite/../../etc/passwd")).code in (403, 404)
    assert (await raw("lite/index.html", auth=False, follow_redirects=False)).code in (302, 403)
