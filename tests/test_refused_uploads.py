"""A refused upload is heard as the refusal it is: the client raises the server's own
error, whatever the body's size, and nobody's next request meets a dropped
connection."""

from __future__ import annotations

import pytest
import yaml
from fsspec_proxy_client import ProxyFileSystem

from jupyter_fsspec_proxy.testing.calls import raw_connection
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow

TOKEN = "refusal-token"
MiB = 2**20


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    home = tmp_path_factory.mktemp("refused")
    (home / "local").mkdir()
    (home / "readonly").mkdir()
    sources = [
        {"name": "Local", "path": str(home / "local")},
        {"name": "Readonly", "path": str(home / "readonly"), "readonly": True},
    ]
    (home / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    with standalone(home, "run", f"--IdentityProvider.token={TOKEN}") as running:
        yield running


@pytest.fixture
def fs(proxy) -> ProxyFileSystem:
    url = f"http://127.0.0.1:{proxy.port}/fsspec-proxy/"
    return ProxyFileSystem(endpoint_url=url, token=TOKEN, skip_instance_cache=True)


@pytest.mark.parametrize("size", [100 * 1024, 8 * MiB, 64 * MiB])
def test_refusals_raise_their_own_errors_whatever_the_size(fs, tmp_path, size):
    data = b"r" * size
    fs.pipe_file("Local/exists.bin", b"first")
    with pytest.raises(PermissionError, match="readonly"):
        fs.pipe_file("Readonly/big.bin", data)
    with pytest.raises(FileExistsError):
        fs.pipe_file("Local/exists.bin", data, mode="create")
    with pytest.raises(FileNotFoundError, match="No source"):
        fs.pipe_file("Nowhere/big.bin", data)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    with pytest.raises(PermissionError, match="readonly"):
        fs.put_file(str(local), "Readonly/from-file.bin")
    with pytest.raises(FileExistsError), fs.open("Local/exists.bin", "xb") as out:
        out.write(data)
    fs.mkdir("Local/folder")
    with pytest.raises(IsADirectoryError, match="'folder' is a folder, not a file"):
        fs.pipe_file("Local/folder", data)  # not at the commit: no staged name in the answer
    assert fs.cat_file("Local/exists.bin") == b"first"  # and the connection still serves
    assert fs.ls("Readonly", detail=False) == []


def test_a_refusal_that_leaves_the_body_unread_says_connection_close(proxy):
    headers = {"Authorization": f"token {TOKEN}", "Content-Length": str(16 * MiB)}
    sock = raw_connection(proxy.port, "PUT", "files/Readonly/x.bin", headers, b"x" * 65536)
    sock.settimeout(30)
    answer = sock.recv(65536)
    sock.close()
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 403 Forbidden"
    assert b"\r\nConnection: close\r\n" in rest
    ok, _ = proxy.request("GET", "api/sources", headers={"Authorization": f"token {TOKEN}"})
    assert ok.status == 200
