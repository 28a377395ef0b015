"""``jupyter fsspec-proxy [run|dev|private]`` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from jupyter_fsspec_proxy.testing.calls import raw_connection
from jupyter_fsspec_proxy.testing.processes import PeakRSS, wait_until
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow

TOKEN = "standalone-test-token"
ORIGIN = "http://127.0.0.1:9"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Private-Network": "true",
}


def test_run_mode_needs_the_token_and_grants_no_origin(tmp_path):
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        auth = {"Authorization": f"token {TOKEN}"}
        assert proxy.request("GET", "api/sources")[0].status == 403
        response, body = proxy.request("GET", "api/sources", headers=auth)
        assert response.status == 200
        assert [s["name"] for s in json.loads(body)] == ["Local"]
        assert json.loads(proxy.request("GET", "api", headers=auth)[1])["mode"] == "run"
        proxy.connection.request("GET", "/api/kernels", headers=auth)
        kernels = proxy.connection.getresponse()
        kernels.read()
        assert kernels.status == 403  # the standalone proxy runs no code
        response, _ = proxy.request("OPTIONS", "files/Local/x", headers=PREFLIGHT)
        assert response.getheader("Access-Control-Allow-Origin") is None


def test_only_url_tokens_start_a_cookie_session(tmp_path):
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        response, _ = proxy.request("GET", "api", headers={"Authorization": f"token {TOKEN}"})
        assert response.status == 200
        assert response.getheader("Set-Cookie") is None  # API clients resend the header
        response, _ = proxy.request("GET", f"api?token={TOKEN}")
        assert response.status == 200
        cookie = response.getheader("Set-Cookie").split(";")[0]
        response, _ = proxy.request("GET", "api/sources", headers={"Cookie": cookie})
        assert response.status == 200  # a page opened with ?token= goes on with its cookie


def test_run_mode_with_an_allowed_origin(tmp_path):
    args = ("run", f"--IdentityProvider.token={TOKEN}", f"--ProxyManager.allowed_origins={ORIGIN}")
    with standalone(tmp_path, *args) as proxy:
        response, _ = proxy.request("OPTIONS", "files/Local/x", headers=PREFLIGHT)
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN
        assert response.getheader("Access-Control-Allow-Private-Network") is None
        response, _ = proxy.request("GET", f"login?token={TOKEN}", headers={"Origin": ORIGIN})
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN


def test_a_refused_host_name_is_said_so_not_called_a_wrong_token(tmp_path):
    """Jupyter refuses Host names that are not this machine's (DNS rebinding); the
    answer says that, so that no client asks for another token."""
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        headers = {"Authorization": f"token {TOKEN}", "Host": "rebound.example"}
        response, body = proxy.request("GET", "api/sources", headers=headers)
    assert response.status == 403
    message = json.loads(body)["message"]
    assert "'rebound.example'" in message and not message.startswith("Not authenticated")


#: Pages of the proxy, and how a page of another origin sends the token without a
#: preflight (in the URL) or with one (the header).
PAGES = ["login", "app/", "app/config.json"]


def test_the_proxys_pages_let_no_other_origin_read_them_with_a_token(tmp_path):
    """Jupyter lets any origin read what a request with a token gets (it echoes the
    Origin); the proxy's pages follow the proxy's policy, as its API does."""
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        for page in PAGES:
            for path, headers in [
                (f"{page}?token={TOKEN}", {"Origin": "http://evil.example"}),
                (page, {"Origin": "http://evil.example", "Authorization": f"token {TOKEN}"}),
            ]:
                response, _ = proxy.request("GET", path, headers=headers)
                assert response.status == 200, path
                assert response.getheader("Access-Control-Allow-Origin") is None, path
                assert "frame-ancestors 'self'" in response.getheader("Content-Security-Policy")


@pytest.mark.parametrize("mode", ["dev", "private"])
def test_unsecured_modes(tmp_path, mode):
    with standalone(tmp_path, mode) as proxy:
        response, body = proxy.request("PUT", "files/Local/a.bin", body=b"0123456789")
        assert response.status == 201
        response, body = proxy.request("GET", "files/Local/a.bin", headers={"Range": "bytes=2-4"})
        assert (response.status, body) == (206, b"234")
        response, _ = proxy.request("OPTIONS", "files/Local/a.bin", headers=PREFLIGHT)
        assert response.getheader("Access-Control-Allow-Origin") == ORIGIN
        assert response.getheader("Access-Control-Allow-Credentials") is None
        private = response.getheader("Access-Control-Allow-Private-Network")
        assert private == ("true" if mode == "private" else None)
        log = proxy.log.read_text()
        assert "NO AUTHENTICATION" in log
        assert "GET /fsspec-proxy/files/Local/a.bin [bytes=2-4] -> 206" in log


def test_dev_mode_refuses_to_listen_beyond_loopback(tmp_path):
    command = [sys.executable, "-m", "jupyter_fsspec_proxy", "dev", "--ip=0.0.0.0"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "only listens on loopback" in done.stdout + done.stderr


def test_dev_mode_rereads_the_config_file(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        config = tmp_path / "proxy.yaml"
        config.write_text(yaml.safe_dump({"sources": [{"name": "Fresh", "path": "memory://f"}]}))

        def names() -> list[str]:
            return [s["name"] for s in json.loads(proxy.request("GET", "api/sources")[1])]

        wait_until(lambda: names() == ["Fresh"], "the new config is served", timeout=60)


GIB = 2**30
BLOCK = 2**20


def test_one_gib_streams_both_ways_in_bounded_memory(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        blocks = (bytes([n % 251]) * BLOCK for n in range(GIB // BLOCK))
        proxy.request("GET", "api")  # warm up before the baseline
        with PeakRSS(proxy.process.pid) as upload_rss:
            response, body = proxy.request(
                "PUT", "files/Local/big.bin", body=blocks, headers={"Content-Length": str(GIB)}
            )
        assert response.status == 201, body
        assert (tmp_path / "data" / "big.bin").stat().st_size == GIB

        with PeakRSS(proxy.process.pid) as download_rss:
            proxy.connection.request("GET", "/fsspec-proxy/files/Local/big.bin")
            response = proxy.connection.getresponse()
            received = 0
            while chunk := response.read(BLOCK):
                assert chunk[:1] == bytes([(received // BLOCK) % 251])
                received += len(chunk)
        assert received == GIB
        print(
            f"RSS growth: upload {upload_rss.growth_mib:.1f} MiB, "
            f"download {download_rss.growth_mib:.1f} MiB"
        )
        assert upload_rss.growth_mib < 64
        assert download_rss.growth_mib < 64


def test_interrupted_upload_leaves_nothing_behind(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        data = tmp_path / "data"
        (data / "keep.bin").write_bytes(b"old version")
        for target in ("new.bin", "keep.bin"):
            headers = {"Content-Length": str(10 * BLOCK)}
            sock = raw_connection(proxy.port, "PUT", f"files/Local/{target}", headers, b"x" * BLOCK)
            sock.settimeout(0.3)
            with pytest.raises(TimeoutError):  # no early refusal: the upload is under way
                sock.recv(1024)
            sock.close()
        wait_until(lambda: len(list(data.iterdir())) <= 1, "the staged files are gone", timeout=30)
        assert [p.name for p in data.iterdir()] == ["keep.bin"]
        assert (data / "keep.bin").read_bytes() == b"old version"


def test_fsspec_http_filesystem_reads_file_urls(tmp_path):
    import fsspec

    with standalone(tmp_path, "dev") as proxy:
        payload = bytes(range(256)) * 1000
        proxy.request("PUT", "files/Local/table.bin", body=payload)
        url = f"http://127.0.0.1:{proxy.port}/fsspec-proxy/files/Local/table.bin"
        fs = fsspec.filesystem("http", skip_instance_cache=True)
        assert fs.info(url)["size"] == len(payload)
        with fs.open(url, "rb", block_size=4096) as f:
            f.seek(100_000)
            assert f.read(50) == payload[100_000:100_050]
        assert fs.cat_file(url, start=10, end=20) == payload[10:20]
