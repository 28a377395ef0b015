"""Sources start off the loop, close when replaced or stopped, and a proxy that
cannot run safely disables itself without taking a shared Jupyter server down."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import subprocess
import sys
import threading
import time

import fsspec
import pytest
import slow_backend  # registers slowmem://
from fsspec.implementations.memory import MemoryFileSystem

from jupyter_fsspec_proxy.errors import scrub, translate
from jupyter_fsspec_proxy.testing.sources import manager_of, s3_kwargs


class SlowStartFileSystem(MemoryFileSystem):
    """Constructed only once ``release`` is set, like a backend that connects at start;
    ``starting`` says that construction has begun."""

    protocol = "slowstart"
    starting = threading.Event()
    release = threading.Event()

    def __init__(self, *args, **kwargs):
        type(self).starting.set()
        type(self).release.wait(30)  # on the loop, this would hold every request
        super().__init__(*args, **kwargs)


fsspec.register_implementation("slowstart", SlowStartFileSystem, clobber=True)


async def test_replaced_and_stopped_s3_sources_close_their_sessions(proxy, jp_serverapp):
    assert (await proxy("files", "S3", "f", method="PUT", body=b"x")).code == 201
    manager = manager_of(jp_serverapp)
    old = manager.registry.current.lookup("S3").backend
    assert old.fs._s3 is not None
    await manager.reload()
    assert old.fs._s3 is None
    assert (await proxy("api", "ls", "S3")).code == 200
    current = manager.registry.current.lookup("S3").backend
    await manager.close()
    assert current.fs._s3 is None


@pytest.fixture
def sources(local_root, s3_endpoint, s3_prefix) -> list[dict]:
    return [
        {"name": "Local", "path": str(local_root)},
        {"name": "S3", "path": f"s3://{s3_prefix}", "kwargs": s3_kwargs(s3_endpoint)},
        {"name": "Slow", "path": "slowmem://slow"},
    ]


async def test_reloads_build_sources_off_the_loop(proxy, jp_serverapp, config_file):
    config_file.write_text(json.dumps({"sources": [{"name": "Late", "path": "slowstart://x"}]}))
    SlowStartFileSystem.starting.clear()
    SlowStartFileSystem.release.clear()
    reload = asyncio.ensure_future(manager_of(jp_serverapp).reload())
    try:
        started = await asyncio.to_thread(SlowStartFileSystem.starting.wait, 30)
        assert started, "the reload never began to build the source"
        assert (await proxy("api")).code == 200
        assert not reload.done()  # served while the backend was starting
    finally:
        SlowStartFileSystem.release.set()
    await reload
    assert manager_of(jp_serverapp).registry.names() == ["Late"]


@pytest.mark.parametrize("proxy_config", [{"backend_timeout": 0.3}])
async def test_a_call_that_outlives_its_504_is_logged_when_it_ends(proxy, caplog):
    caplog.set_level(logging.WARNING, logger="jupyter_fsspec_proxy.backends.base")
    response = await proxy("api", "info", "Slow", "x")
    assert response.code == 504
    deadline = time.monotonic() + 30
    while "after its request got 504" not in caplog.text and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert "Slow" in caplog.text and "after its request got 504" in caplog.text


UNSAFE = {
    "ServerApp": {"jpserver_extensions": {"jupyter_fsspec_proxy": True}, "ip": "192.0.2.1"},
    "FsspecProxy": {"mode": "dev"},
}


@pytest.mark.parametrize("jp_server_config", [UNSAFE])
async def test_an_unsafe_mode_in_a_shared_server_disables_only_the_proxy(jp_fetch):
    """``dev`` mode off loopback (never bound here: pytest-jupyter serves on its own
    socket) turns the proxy off, with the reason, and the server lives on."""
    refused = await jp_fetch("fsspec-proxy", "api", "sources", raise_error=False)
    assert refused.code == 503
    assert "loopback" in json.loads(refused.body)["message"]
    assert (await jp_fetch("api", "status")).code == 200


@pytest.mark.parametrize("proxy_config", [{"chunk_size": 64}])
async def test_failed_reads_ahead_are_always_retrieved(
    http_server_client, http_server_port, jp_base_url, jp_serverapp, monkeypatch
):
    """A client that leaves mid-batch: the reads already started are collected, so
    asyncio never reports 'Task exception was never retrieved'."""
    memory = slow_backend.SlowMemoryFileSystem()
    memory.pipe_file("/slow/f.bin", b"x" * 64)
    monkeypatch.setattr(slow_backend.SlowMemoryFileSystem, "delay", 0)
    unretrieved: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context["message"]))
    items = [{"path": "Slow/f.bin", "start": 0, "end": 64}]
    items += [{"path": f"Slow/missing-{n}", "start": 0, "end": 8} for n in range(12)]
    body = json.dumps({"ranges": items}).encode()
    token = jp_serverapp.identity_provider.token
    reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[-1])
    writer.write(
        f"POST {jp_base_url}fsspec-proxy/api/ranges HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: token {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.transport.abort()  # gone before the first frame
    await asyncio.sleep(0.5)
    gc.collect()
    await asyncio.sleep(0.1)
    loop.set_exception_handler(None)
    assert not [m for m in unretrieved if "never retrieved" in m]


def test_scrubbing_replaces_the_longest_secret_first():
    full = "AKIAPART2-FULL-SECRET-2"
    secrets = {full[:n] for n in range(4, len(full) + 1)}  # each a prefix of the next
    assert scrub(f"key AKIAPART2 secret {full}.", secrets) == "key *** secret ***."


def test_backend_errors_name_the_source_not_the_server_root():
    error = OSError("GET http://***/no-such-bucket?list-type=2&prefix=x%2F failed")
    message = translate(error, set(), "no-such-bucket/x", "Team").message
    assert "no-such-bucket" not in message and "x%2F" not in message
    assert "Team" in message


def test_the_core_does_not_import_tornado():
    core = "paths, sources, backends, confined, client_wheel, config, posted, errors, conditions"
    code = (
        f"import sys; from jupyter_fsspec_proxy import {core}; "
        "print(sorted(m for m in sys.modules if m.startswith('tornado')))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]", imported.stderr


def test_the_optional_stores_are_imported_only_by_their_sources():
    code = (
        "import sys; from jupyter_fsspec_proxy import sources, backends; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'gcsfs', 'adlfs', 'azure', 'sshfs', 'asyncssh', 'webdav4', 's3fs'}))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]", imported.stderr
