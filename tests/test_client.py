"""fsspec-proxy-client on CPython against a real Jupyter server with the extension.

The client is synchronous and the test server runs on the test's event loop,
so each scenario runs in a thread while the loop serves it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from subprocess import PIPE

import fsspec
import fsspec_proxy_client
import pytest
from fsspec.callbacks import Callback
from fsspec_proxy_client import AsyncProxyFileSystem, ProxyError, ProxyFileSystem
from fsspec_proxy_client.operations import upload_body
from fsspec_proxy_client.transport_xhr import decode_user_defined

from jupyter_fsspec_proxy.testing.processes import wait_until
from jupyter_fsspec_proxy.testing.sources import WRITABLE


@pytest.fixture
def proxy_url(http_server, jp_http_port, jp_base_url) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}fsspec-proxy/"


@pytest.fixture
def remote(jp_serverapp, proxy_url) -> ProxyFileSystem:
    token = jp_serverapp.identity_provider.token
    return ProxyFileSystem(endpoint_url=proxy_url, token=token, skip_instance_cache=True)


def test_client_is_the_installed_pure_python_wheel():
    root = Path(__file__).parents[1]
    wheels = [p.name for p in (root / "dist" / "client").glob("*.whl")]
    assert wheels == [f"fsspec_proxy_client-{fsspec_proxy_client.__version__}-py3-none-any.whl"]
    assert "site-packages" in fsspec_proxy_client.__file__
    assert fsspec.get_filesystem_class("proxy") is ProxyFileSystem


@pytest.mark.parametrize("source", WRITABLE)
async def test_every_method_round_trips(remote, source, tmp_path):
    def scenario():
        data = bytes(range(256)) * 100
        remote.pipe_file(f"{source}/d/a.bin", data)
        assert remote.cat_file(f"{source}/d/a.bin") == data
        assert remote.cat_file(f"proxy://{source}/d/a.bin", start=10, end=20) == data[10:20]
        assert remote.cat_file(f"{source}/d/a.bin", start=-5) == data[-5:]
        assert remote.cat_file(f"{source}/d/a.bin", start=25_600) == b""

        assert remote.ls(f"{source}/d", detail=False) == [f"{source}/d/a.bin"]
        [entry] = remote.ls(f"{source}/d")
        assert (entry["name"], entry["type"], entry["size"]) == (
            f"{source}/d/a.bin",
            "file",
            25_600,
        )
        assert remote.info(f"{source}/d")["type"] == "directory"
        assert remote.exists(f"{source}/d/a.bin")
        assert not remote.exists(f"{source}/d/nope")
        assert remote.ukey(f"{source}/d/a.bin") == entry["etag"]
        assert isinstance(remote.checksum(f"{source}/d/a.bin"), int)

        with remote.open(f"{source}/d/a.bin", "rb", block_size=1024) as f:
            f.seek(1000)
            assert f.read(100) == data[1000:1100]
        with remote.open(f"{source}/d/t.txt", "w") as f:
            f.write("text " * 1000)
        assert remote.cat(f"{source}/d/t.txt") == b"text " * 1000

        results = remote.cat_ranges(
            [f"{source}/d/a.bin", f"{source}/d/t.txt", f"{source}/d/missing"],
            [0, 5, 0],
            [4, 9, 1],
        )
        assert results[:2] == [data[:4], b"text"]
        assert isinstance(results[2], FileNotFoundError)

        remote.cp_file(f"{source}/d/a.bin", f"{source}/e/copy.bin")
        remote.mv(f"{source}/d/t.txt", f"{source}/e/moved.txt")
        assert sorted(remote.ls(f"{source}/e", detail=False)) == [
            f"{source}/e/copy.bin",
            f"{source}/e/moved.txt",
        ]
        local = tmp_path / "down.bin"
        remote.get_file(f"{source}/e/copy.bin", str(local))
        assert local.read_bytes() == data
        remote.put_file(str(local), f"{source}/f/up.bin")
        assert remote.cat(f"{source}/f/up.bin") == data

        remote.rm(f"{source}/e", recursive=True)
        assert not remote.exists(f"{source}/e/copy.bin")
        remote.rm_file(f"{source}/f/up.bin")
        assert not remote.exists(f"{source}/f/up.bin")

    await asyncio.to_thread(scenario)


async def test_sources_mkdir_and_cross_source_copy(remote):
    def scenario():
        assert {s["name"] for s in remote.sources()} >= {"Scratch", "Local", "S3", "Readonly"}
        assert "Scratch" in remote.ls("", detail=False)
        remote.makedirs("Local/x/y", exist_ok=True)
        remote.mkdir("Local/x/y/z")
        assert remote.isdir("Local/x/y/z")
        remote.pipe_file("Scratch/cross.txt", b"across")
        remote.cp_file("Scratch/cross.txt", "S3/cross.txt")
        assert remote.cat("S3/cross.txt") == b"across"

    await asyncio.to_thread(scenario)


async def test_errors_map_to_python_exceptions(remote):
    def scenario():
        with pytest.raises(FileNotFoundError, match="No such file|not found|nope"):
            remote.cat_file("Local/nope.txt")
        with pytest.raises(PermissionError, match="readonly"):
            remote.pipe_file("Readonly/x.txt", b"x")
        with pytest.raises(ValueError, match="'\\.\\.'"):
            remote.cat_file("Local/../outside.txt")
        with pytest.raises(ProxyError) as raised:
            remote.ls("Broken")
        assert raised.value.status == 503
        with pytest.raises(FileNotFoundError):
            remote.cat_ranges(["Local/nope"], [0], [1], on_error="raise")

    await asyncio.to_thread(scenario)


async def test_fsspec_open_with_the_environment(jp_serverapp, proxy_url, monkeypatch):
    monkeypatch.setenv("FSSPEC_PROXY_URL", proxy_url)
    monkeypatch.setenv("FSSPEC_PROXY_TOKEN", jp_serverapp.identity_provider.token)

    def scenario():
        with fsspec.open("proxy://Scratch/hello.txt", "w") as f:
            f.write("hi")
        with fsspec.open("proxy://Scratch/hello.txt") as f:
            assert f.read() == b"hi"

    await asyncio.to_thread(scenario)


@pytest.mark.parametrize(
    "environment",
    [
        {"FSSPEC_PROXY_ENDPOINT_URL": "{url}", "FSSPEC_PROXY_TOKEN": "{token}"},
        # a hub user's kernel, as older docs set it up, in a server that runs the proxy
        {
            "FSSPEC_PROXY_URL": "{url}",
            "JUPYTERHUB_API_TOKEN": "{token}",
            "FSSPEC_PROXY_CONFIG": "/etc/fsspec-proxy/config.yaml",
        },
    ],
)
async def test_a_fresh_python_with_the_environment_already_set(
    jp_serverapp, proxy_url, environment
):
    """fsspec reads FSSPEC_<PROTOCOL>_<OPTION> once, at its import: a new process."""
    token = jp_serverapp.identity_provider.token
    names = {k: v.format(url=proxy_url, token=token) for k, v in environment.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FSSPEC_", "JUPYTERHUB_"))}
    code = (
        "import fsspec\n"
        "with fsspec.open('proxy://Scratch/fresh.txt', 'w') as f: f.write('fresh')\n"
        "print(fsspec.open('proxy://Scratch/fresh.txt', 'r').open().read())"
    )
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env={**clean, **names}, stdout=PIPE, stderr=PIPE
    )
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    assert out.decode().strip() == "fresh"


@pytest.mark.parametrize("source", WRITABLE)
async def test_append_adds_and_never_truncates(remote, source):
    def scenario():
        path = f"{source}/appended/log.txt"
        with remote.open(path, "a") as f:  # no file yet: made
            f.write("line1\n")
        with remote.open(path, "ab") as f:
            f.write(b"line2\n")
        options = {"endpoint_url": remote.endpoint_url, "token": remote.token}
        with fsspec.open(f"proxy://{path}", "a", **options) as f:
            f.write("line3\n")
        assert remote.cat_file(path) == b"line1\nline2\nline3\n"
        appending = remote.open(path, "ab")
        appending.write(b"mine\n")
        remote.pipe_file(path, b"theirs\n")  # another writer, before the append is sent
        appending.close()
        assert remote.cat_file(path) == b"theirs\nmine\n"  # appended to what is there
        # a writer between reading the file and sending it back: theirs stays, whole
        with tempfile.SpooledTemporaryFile() as spool:
            condition = remote.drive(remote.spool_existing_op(path, spool))
            remote.pipe_file(path, b"last\n")
            spool.write(b"lost?\n")
            with pytest.raises(FileExistsError):
                remote.drive(remote.upload_op(path, upload_body(spool), headers=condition))
        assert remote.cat_file(path) == b"last\n"

    await asyncio.to_thread(scenario)


class Recording:
    """The client's transport, noting the route of each request it sends."""

    def __init__(self, transport) -> None:
        self.transport, self.routes = transport, []

    def request(self, method, url, headers=None, body=None):
        self.routes.append(url.partition("fsspec-proxy/")[2].partition("?")[0])
        return self.transport.request(method, url, headers, body)


@pytest.mark.parametrize("source", WRITABLE)
async def test_one_info_serves_an_open_and_writes_forget_it(remote, source):
    """pyarrow asks ``info``, ``isfile``, then opens the file: the server is asked once;
    a write through the filesystem, or ``info_expiry=0``, makes it ask again."""

    def scenario():
        path = f"{source}/known/a.bin"
        remote.pipe_file(path, b"a" * 3000)
        remote.transport = recording = Recording(remote.transport)
        assert remote.info(path)["size"] == 3000
        assert remote.isfile(path)
        with remote.open(path, "rb") as f:
            assert f.read(10) == b"a" * 10
        assert [r for r in recording.routes if r.startswith("api/info")] == [f"api/info/{path}"]
        remote.pipe_file(path, b"b" * 10)
        assert remote.info(path)["size"] == 10
        assert remote.cat_file(path) == b"b" * 10
        asking = ProxyFileSystem(
            endpoint_url=remote.endpoint_url, token=remote.token, info_expiry=0
        )
        asking.transport = recording = Recording(asking.transport)
        assert asking.isfile(path) and asking.info(path)["size"] == 10
        assert recording.routes == [f"api/info/{path}"] * 2

    await asyncio.to_thread(scenario)


@pytest.mark.parametrize("source", WRITABLE)
async def test_a_file_object_reads_the_version_it_opened(remote, source):
    """A file replaced by another writer while it is open raises on the next read from
    the server, instead of returning pieces of two versions."""

    def scenario():
        path = f"{source}/pinned/a.bin"
        remote.pipe_file(path, b"old " * 1000)
        other = ProxyFileSystem(
            endpoint_url=remote.endpoint_url, token=remote.token, skip_instance_cache=True
        )
        with remote.open(path, "rb", block_size=16, cache_type="none") as f:
            assert f.read(4) == b"old "
            other.pipe_file(path, b"new " * 2000)
            f.seek(3000)
            with pytest.raises(fsspec_proxy_client.FileChangedError, match="changed"):
                f.read(4)
        with remote.open(path, "rb") as f:  # opened anew: the new version
            assert f.size == 8000 and f.read(4) == b"new "

    await asyncio.to_thread(scenario)


async def test_asynchronous_filesystem(jp_serverapp, proxy_url):
    token = jp_serverapp.identity_provider.token
    afs = fsspec.filesystem(
        "proxy", asynchronous=True, endpoint_url=proxy_url, token=token, skip_instance_cache=True
    )
    assert isinstance(afs, AsyncProxyFileSystem)
    await afs._pipe_file("Local/async/a.bin", b"0123456789")
    assert await afs._cat_file("Local/async/a.bin", start=2, end=5) == b"234"
    assert await afs._ls("Local/async", detail=False) == ["Local/async/a.bin"]
    assert await afs._cat_ranges(["Local/async/a.bin"], [0], [2]) == [b"01"]
    await afs._mv("Local/async/a.bin", "Local/async/b.bin")
    assert await afs._exists("Local/async/b.bin")
    with pytest.raises(FileNotFoundError):
        await afs._info("Local/async/a.bin")
    await afs._rm("Local/async", recursive=True)
    assert not await afs._exists("Local/async")


@pytest.mark.parametrize("source", WRITABLE)
async def test_a_signed_url_reads_without_a_token_until_it_expires(remote, source):
    def scenario():
        remote.pipe_file(f"{source}/signed.csv", b"x,y\n1,2\n")
        url = remote.sign(f"proxy://{source}/signed.csv")
        assert url.startswith(f"{remote.endpoint_url}signed/") and url.endswith("/signed.csv")
        with urllib.request.urlopen(url, timeout=30) as answer:  # no token, no cookie
            assert answer.read() == b"x,y\n1,2\n"
        short = remote.sign(f"{source}/signed.csv", expiration=1)
        signed_by = time.time()  # the URL's expiry is at most 2 s after this
        while time.time() < signed_by + 2:
            time.sleep(0.1)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(short, timeout=30)
        assert refused.value.code == 403
        with pytest.raises(ValueError, match="expires"):
            remote.sign(f"{source}/signed.csv", expiration=10**9)

    await asyncio.to_thread(scenario)


async def test_the_asynchronous_filesystem_signs_too(jp_serverapp, proxy_url):
    token = jp_serverapp.identity_provider.token
    afs = AsyncProxyFileSystem(endpoint_url=proxy_url, token=token, skip_instance_cache=True)
    await afs._pipe_file("Scratch/async-signed.txt", b"signed")
    url = await afs._sign("Scratch/async-signed.txt", expiration=60)
    answer = await asyncio.to_thread(urllib.request.urlopen, url, timeout=30)
    assert answer.read() == b"signed"


class Progress(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.updates = 0

    def call(self, *args, **kwargs) -> None:
        self.updates += 1


MiB = 1 << 20


@pytest.mark.slow
async def test_256_mib_put_and_get_in_bounded_client_memory(remote, tmp_path: Path):
    source = tmp_path / "source.bin"
    with source.open("wb") as out:
        for n in range(256):
            out.write(bytes([n]) * MiB)

    def scenario():
        tracemalloc.start()
        try:
            up, down = Progress(), Progress()
            remote.put_file(str(source), "Local/big.bin", callback=up)
            _, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            remote.get_file("Local/big.bin", str(tmp_path / "back.bin"), callback=down)
            _, get_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return put_peak, get_peak, up, down

    put_peak, get_peak, up, down = await asyncio.to_thread(scenario)
    assert (tmp_path / "back.bin").stat().st_size == 256 * MiB
    with source.open("rb") as a, (tmp_path / "back.bin").open("rb") as b:
        while block := a.read(16 * MiB):
            assert block == b.read(16 * MiB)
    assert up.value == down.value == 256 * MiB
    assert up.updates > 100 and down.updates >= 32
    # Client and server share this process: both must stay far below the file size.
    assert put_peak < 64 * MiB, put_peak / MiB
    assert get_peak < 64 * MiB, get_peak / MiB


def test_main_thread_xhr_bodies_decode_exactly():
    data = bytes(range(256)) * 4096  # 1 MiB
    as_user_defined = "".join(chr(b) if b < 0x80 else chr(0xF700 + b) for b in data)
    assert decode_user_defined(as_user_defined) == data


class Misbehaving(BaseHTTPRequestHandler):
    """A server that answers GETs with 206 for other bytes than asked, closes kept-alive
    connections after each answer without saying so, drops (reads, then closes
    without an answer) the first request for each path with "drop" in it, answers
    the first for a path with "gateway" in it as nginx does when its replica died
    (502, HTML), one with "backend-down" as the proxy does (502, JSON), and
    redirects a path with "moved" in it to another origin (``localhost``)."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []
    credentials: list[str | None] = []
    dropped: set[str] = set()
    closed = 0  # connections the server has closed
    close_after_answer = True

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.seen.append(self.command)
        self.credentials.append(self.headers.get("Authorization"))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.close_connection = self.close_after_answer
        if "drop" in self.path and self.path not in self.dropped:
            self.dropped.add(self.path)
            self.close_connection = True
            return
        if "gateway" in self.path and self.path not in self.dropped:
            self.dropped.add(self.path)
            status, body, headers = (
                502,
                b"<html>502 Bad Gateway</html>",
                {"Content-Type": "text/html"},
            )
        if "backend-down" in self.path:
            status, headers = 502, {"Content-Type": "application/json"}
            body = b'{"message": "The backend is unreachable", "reason": "Bad Gateway"}'
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if "moved" in self.path:
            where = f"http://localhost:{self.server.server_address[1]}/presigned?sig=1"
            self._answer(307, b"", {"Location": where})
            return
        self._answer(206, b"WXYZ", {"Content-Range": "bytes 0-3/100"})

    def do_POST(self) -> None:
        self._answer(201, b'{"name": "S/b", "type": "file", "size": 1}', {})

    do_PUT = do_DELETE = do_POST

    def log_message(self, *args) -> None:
        pass


class CountingCloses(ThreadingHTTPServer):
    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        Misbehaving.closed += 1


@pytest.fixture
def misbehaving() -> Iterator[ProxyFileSystem]:
    server = CountingCloses(("127.0.0.1", 0), Misbehaving)
    Misbehaving.seen, Misbehaving.credentials, Misbehaving.dropped = [], [], set()
    Misbehaving.closed = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/fsspec-proxy/"
    yield ProxyFileSystem(endpoint_url=url, token="t", skip_instance_cache=True)
    server.shutdown()


def test_a_206_for_other_bytes_is_an_error(misbehaving):
    with pytest.raises(ProxyError, match="another range"):
        misbehaving.cat_file("S/a.bin", start=10, end=14)
    assert misbehaving.cat_file("S/a.bin", start=0, end=4) == b"WXYZ"


def test_connections_the_server_closed_are_not_reused(misbehaving):
    for n in range(3):  # each on a connection the server closed after the last answer
        assert misbehaving.cat_file("S/a.bin", start=0, end=4) == b"WXYZ"
        # idle, as between a user's calls: the server's close arrives
        wait_until(lambda n=n: Misbehaving.closed > n, "the server closes the connection")
    misbehaving.mv("S/a.bin", "S/b.bin")
    assert Misbehaving.seen == ["GET", "GET", "GET", "POST"]


def test_only_idempotent_requests_are_sent_again_after_a_drop(misbehaving, monkeypatch):
    monkeypatch.setattr(Misbehaving, "close_after_answer", False)  # kept alive unless dropped
    assert misbehaving.cat_file("S/drop.bin", start=0, end=4) == b"WXYZ"  # sent again
    misbehaving.pipe_file("S/drop-put", b"x")  # a PUT of bytes in memory: sent again
    assert Misbehaving.seen == ["GET", "GET", "PUT", "PUT"]
    with pytest.raises(ConnectionError):
        misbehaving.mv("S/drop-move", "S/b.bin")  # the server may have moved it: never twice
    assert Misbehaving.seen.count("POST") == 1


def test_a_gateways_502_is_sent_again_once_and_the_proxys_own_is_not(misbehaving, monkeypatch):
    """nginx or the hub's proxy answers 502 itself when the replica that had the
    request died; the proxy's own 502 (JSON) is an answer."""
    monkeypatch.setattr(Misbehaving, "close_after_answer", False)
    assert misbehaving.cat_file("S/gateway.bin", start=0, end=4) == b"WXYZ"  # sent again
    misbehaving.pipe_file("S/gateway-put", b"x")  # a PUT of bytes in memory: sent again
    assert Misbehaving.seen == ["GET", "GET", "PUT", "PUT"]
    with pytest.raises(ProxyError, match="502"):
        misbehaving.mv("S/gateway-move", "S/b.bin")  # the replica may have moved it
    with pytest.raises(ProxyError, match="backend is unreachable"):
        misbehaving.cat_file("S/backend-down.bin", start=0, end=4)
    assert Misbehaving.seen == ["GET", "GET", "PUT", "PUT", "POST", "GET"]


def test_redirects_to_another_origin_are_followed_without_the_token(misbehaving):
    assert misbehaving.cat_file("S/moved.bin", start=0, end=4) == b"WXYZ"
    assert Misbehaving.credentials == ["token t", None]


async def test_auth_failures_say_what_is_missing(proxy_url):
    def scenario():
        anonymous = ProxyFileSystem(endpoint_url=proxy_url, token="wrong", skip_instance_cache=True)
        with pytest.raises(PermissionError, match="FSSPEC_PROXY_TOKEN"):
            anonymous.ls("Scratch")

    await asyncio.to_thread(scenario)


async def test_proxy_urls_with_only_the_environment(jp_serverapp, proxy_url):
    """FSSPEC_PROXY_URL and FSSPEC_PROXY_TOKEN set before Python starts, as in a hub
    user's kernel: fsspec also reads them as its own config of "proxy" (url=,
    token=), and plain proxy:// URLs work."""
    code = (
        "import fsspec\n"
        "with fsspec.open('proxy://Scratch/env.txt', 'wb') as f:\n"
        "    f.write(b'from the environment')\n"
        "print(fsspec.open('proxy://Scratch/env.txt').open().read().decode())\n"
    )
    env = {
        **os.environ,
        "FSSPEC_PROXY_URL": proxy_url,
        "FSSPEC_PROXY_TOKEN": jp_serverapp.identity_provider.token,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert out.decode().strip() == "from the environment", err.decode()
