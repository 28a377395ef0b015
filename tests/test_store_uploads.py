"""Uploads on every writable store: streamed into the store as they arrive, so the
server's memory and temporary folder stay bounded, and whole or absent.

The big case is 1 GiB where the emulator takes it in seconds; S3 and GCS get 256 MiB,
because moto keeps its objects in the test process's memory and fake-gcs-server keeps
a resumable upload in its own until it is finished (1 GiB took it minutes and 3 GB).
A memory store keeps the bytes in the server's own memory, so it is left out.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_fsspec_proxy.confined import STAGED_PREFIX
from jupyter_fsspec_proxy.testing.calls import put_head
from jupyter_fsspec_proxy.testing.processes import Peak, PeakRSS, folder_bytes, wait_until
from jupyter_fsspec_proxy.testing.stores import AUTH, STORES, Served, make_store, serving

pytestmark = pytest.mark.stores

MiB = 2**20
PIECE = bytes(range(256)) * 4096  # 1 MiB
BIG = {"S3": 256 * MiB, "GCS": 256 * MiB}
BOUND_MIB = 64
WRITABLE = [name for name in STORES if name not in ("HTTP", "Memory")]


@pytest.fixture(scope="module", params=WRITABLE)
def served(request, tmp_path_factory) -> Iterator[tuple[Served, Path]]:
    store = make_store(request.param, request)
    home = tmp_path_factory.mktemp(f"uploads-{store.name.lower()}")
    spool = home / "tmp"
    spool.mkdir()
    if store.own is not None:
        fs, root = store.behind_the_back()
        fs.makedirs(f"{root}/w", exist_ok=True)
    with serving(store, home, [store.source("W", "w")], env={"TMPDIR": str(spool)}) as served:
        yield served, spool


def start_put(served: Served, path: str, size: int) -> http.client.HTTPConnection:
    headers = {**AUTH, "Content-Length": str(size)}
    return put_head(served.proxy.port, f"files/W/{path}", headers, timeout=300)


def test_a_big_upload_grows_neither_memory_nor_temporary_disk(served):
    served, spool = served
    name = served.store.name
    size = BIG.get(name, 1024 * MiB)
    assert served.http("GET", "api/ls/W")[0] == 200  # the backend's client is loaded
    with PeakRSS(served.proxy.process.pid) as memory, Peak(lambda: folder_bytes(spool)) as disk:
        connection = start_put(served, "big.bin", size)
        for _ in range(size // MiB):
            connection.send(PIECE)
        response = connection.getresponse()
        assert response.status == 201, response.read()
    assert memory.growth_mib < BOUND_MIB, f"{name}: RSS grew {memory.growth_mib:.0f} MiB"
    assert disk.growth_mib < BOUND_MIB, f"{name}: TMPDIR grew {disk.growth_mib:.0f} MiB"
    status, _, tail = served.http("GET", "files/W/big.bin", headers={"Range": "bytes=-1000"})
    assert (status, tail) == (206, PIECE[-1000:])
    assert served.json("GET", "api/info/W/big.bin")["size"] == size
    assert served.http("DELETE", "files/W/big.bin")[0] == 204


def test_an_interrupted_upload_leaves_nothing_behind(served):
    served, spool = served
    connection = start_put(served, "cut/cut.bin", 48 * MiB)
    for _ in range(24):
        connection.send(PIECE)
    assert served.stored("cut") == []  # nothing visible while the body arrives
    connection.close()  # the client goes away mid-body
    wait_until(lambda: folder_bytes(spool) == 0, "the spool is empty")
    # a local upload's hidden name, beside its target
    wait_until(lambda: STAGED_PREFIX not in " ".join(served.stored("")), "the staged file is gone")
    assert served.stored("cut") == []
    assert served.http("GET", "files/W/cut/cut.bin")[0] == 404
