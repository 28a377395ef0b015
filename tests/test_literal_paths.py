"""A path names one file or folder, literally, on every backend: glob characters
are characters (fsspec's rm, copy and mv would expand them)."""

from __future__ import annotations

import pytest

from jupyter_fsspec_proxy.testing.calls import body_json, transfer
from jupyter_fsspec_proxy.testing.sources import WRITABLE


async def put(proxy, source: str, name: str, data: bytes = b"x") -> None:
    response = await proxy("files", source, name, method="PUT", body=data)
    assert response.code == 201, response.body


async def names(proxy, source: str, folder: str) -> list[str]:
    listing = await proxy("api", "ls", source, folder, params={"detail": "false"})
    return sorted(name.rpartition("/")[2] for name in body_json(listing))


@pytest.mark.parametrize("source", WRITABLE)
async def test_delete_names_one_file_literally(proxy, source):
    for name in ("report[1].txt", "report1.txt", "banana.txt", "berry.txt", "b*"):
        await put(proxy, source, f"glob/{name}", name.encode())
    assert (await proxy("files", source, "glob/report[1].txt", method="DELETE")).code == 204
    assert (await proxy("files", source, "glob/b*", method="DELETE")).code == 204
    assert await names(proxy, source, "glob") == ["banana.txt", "berry.txt", "report1.txt"]
    missing = await proxy("files", source, "glob/ban*", method="DELETE")
    assert missing.code == 404
    assert await names(proxy, source, "glob") == ["banana.txt", "berry.txt", "report1.txt"]


@pytest.mark.parametrize("source", WRITABLE)
async def test_move_and_copy_take_the_path_as_it_is(proxy, source):
    for name in ("a*", "apple.txt", "avocado.txt"):
        await put(proxy, source, f"mv/{name}", name.encode())
    moved = await transfer(proxy, "move", source, "mv/a*", "mv/moved.txt")
    assert moved.code == 201, moved.body
    assert body_json(moved)["type"] == "file"
    assert await names(proxy, source, "mv") == ["apple.txt", "avocado.txt", "moved.txt"]
    assert (await proxy("files", source, "mv/moved.txt")).body == b"a*"

    copied = await transfer(proxy, "copy", source, "mv/a?ple.txt", "mv/copy.txt")
    assert copied.code == 404
    await put(proxy, source, "mv/a?ple.txt", b"question")
    copied = await transfer(proxy, "copy", source, "mv/a?ple.txt", "mv/copy.txt")
    assert copied.code == 201
    assert (await proxy("files", source, "mv/copy.txt")).body == b"question"
    assert (await proxy("files", source, "mv/apple.txt")).body == b"apple.txt"


@pytest.mark.parametrize("source", WRITABLE)
async def test_recursive_operations_stay_in_the_named_folder(proxy, source):
    for name in ("g[1]/in.txt", "g1/kept.txt", "g[1]/deep/x.txt"):
        await put(proxy, source, f"tree/{name}", name.encode())
    copied = await transfer(proxy, "copy", source, "tree/g[1]", "tree/copy", recursive=True)
    assert copied.code == 201, copied.body
    assert await names(proxy, source, "tree/copy") == ["deep", "in.txt"]
    deleted = await proxy(
        "files", source, "tree/g[1]", method="DELETE", params={"recursive": "true"}
    )
    assert deleted.code == 204
    assert await names(proxy, source, "tree") == ["copy", "g1"]
    assert await names(proxy, source, "tree/g1") == ["kept.txt"]
    moved = await transfer(proxy, "move", source, "tree/copy", "tree/g*", recursive=True)
    assert moved.code == 201, moved.body
    assert await names(proxy, source, "tree") == ["g*", "g1"]
    assert await names(proxy, source, "tree/g*") == ["deep", "in.txt"]
