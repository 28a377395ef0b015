"""The client raises what the server raised: errors travel by the exception's name,
not by an HTTP status that several exceptions share (409, 400)."""

from __future__ import annotations

import asyncio
import builtins

import pytest
import raising_backend  # registers raising://
from fsspec_proxy_client import ProxyFileSystem


@pytest.fixture
def sources(local_root) -> list[dict]:
    return [
        {"name": "Raising", "path": "raising://r"},
        {"name": "Local", "path": str(local_root)},
        {"name": "Readonly", "path": str(local_root), "readonly": True},
    ]


@pytest.fixture
def remote(jp_serverapp, http_server, jp_http_port, jp_base_url) -> ProxyFileSystem:
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}fsspec-proxy/"
    token = jp_serverapp.identity_provider.token
    return ProxyFileSystem(endpoint_url=url, token=token, skip_instance_cache=True)


@pytest.mark.parametrize("name", raising_backend.RAISED)
async def test_what_a_backend_raises_the_client_raises(remote, name):
    def scenario():
        with pytest.raises(getattr(builtins, name)) as raised:
            remote.info(f"Raising/{name}")
        assert type(raised.value) is getattr(builtins, name)

    await asyncio.to_thread(scenario)


async def test_what_the_proxy_itself_refuses_is_raised_as_such(remote, local_root):
    (local_root / "a-file").write_bytes(b"x")
    (local_root / "folder").mkdir()

    def scenario():
        with pytest.raises(FileNotFoundError, match="No source named"):
            remote.info("Nowhere/x")
        with pytest.raises(NotADirectoryError):  # 409, as FileExistsError's is
            remote.pipe_file("Local/a-file/below.txt", b"x")
        with pytest.raises(FileExistsError):
            remote.makedirs("Local/a-file", exist_ok=True)
        with pytest.raises(FileExistsError):
            remote.pipe_file("Local/a-file", b"y", mode="create")
        with pytest.raises(IsADirectoryError):  # 400, as ValueError's is
            remote.cat_file("Local/folder")
        with pytest.raises(ValueError):
            remote.cat_file("Local/../escape")
        with pytest.raises(PermissionError, match="readonly"):
            remote.pipe_file("Readonly/x", b"x")
        with pytest.raises(IsADirectoryError):
            remote.cat_ranges(["Local/folder"], [0], [1], on_error="raise")

    await asyncio.to_thread(scenario)
