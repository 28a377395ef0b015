"""ls, info, exists, mkdir, copy and move, on every kind of backend."""

from __future__ import annotations

import pytest

from jupyter_fsspec_proxy.confined import STAGED_PREFIX
from jupyter_fsspec_proxy.testing.calls import body_json, transfer
from jupyter_fsspec_proxy.testing.sources import WRITABLE


async def put(proxy, source: str, name: str, data: bytes = b"x"):
    response = await proxy("files", source, name, method="PUT", body=data)
    assert response.code == 201, response.body


@pytest.mark.parametrize("source", WRITABLE)
async def test_ls_with_and_without_detail(proxy, source):
    await put(proxy, source, "top/a.txt", b"aaa")
    await put(proxy, source, "top/sub/b.txt", b"b")

    names = body_json(await proxy("api", "ls", source, "top", params={"detail": "false"}))
    assert sorted(names) == [f"{source}/top/a.txt", f"{source}/top/sub"]

    entries = body_json(await proxy("api", "ls", source, "top"))
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name[f"{source}/top/a.txt"]["type"] == "file"
    assert by_name[f"{source}/top/a.txt"]["size"] == 3
    assert by_name[f"{source}/top/sub"]["type"] == "directory"

    root = body_json(await proxy("api", "ls", source, params={"detail": "false"}))
    assert root == [f"{source}/top"]


async def test_ls_hides_uploads_not_yet_committed(proxy, local_root):
    (local_root / "kept.txt").write_text("kept")
    (local_root / f"{STAGED_PREFIX}k1ll3d").write_text("half of an upload")
    names = body_json(await proxy("api", "ls", "Local", params={"detail": "false"}))
    assert names == ["Local/kept.txt"]
    entries = body_json(await proxy("api", "ls", "Local"))
    assert [entry["name"] for entry in entries] == ["Local/kept.txt"]


@pytest.mark.parametrize("source", WRITABLE)
async def test_info_and_exists(proxy, source):
    await put(proxy, source, "d/f.bin", b"12345")
    info = body_json(await proxy("api", "info", source, "d/f.bin"))
    assert info["name"] == f"{source}/d/f.bin"
    assert (info["type"], info["size"]) == ("file", 5)
    assert info["etag"].startswith('"')
    assert body_json(await proxy("api", "info", source, "d"))["type"] == "directory"

    assert body_json(await proxy("api", "exists", source, "d/f.bin")) == {"exists": True}
    assert body_json(await proxy("api", "exists", source, "d/nope")) == {"exists": False}
    missing = await proxy("api", "info", source, "d/nope")
    assert missing.code == 404
    assert body_json(missing)["error"] == "FileNotFoundError"


@pytest.mark.parametrize("source", ["Scratch", "Local"])
async def test_mkdir(proxy, source):
    created = await proxy("api", "mkdir", source, "a/b/c", method="POST", body=b"")
    assert created.code == 201
    assert body_json(await proxy("api", "info", source, "a/b/c"))["type"] == "directory"
    again = await proxy(
        "api", "mkdir", source, "a/b/c", method="POST", body=b"", params={"exist_ok": "false"}
    )
    assert again.code == 409


async def test_mkdir_without_parents_needs_the_parent(proxy, local_root):
    orphan = await proxy(
        "api", "mkdir", "Local", "x/y", method="POST", body=b"", params={"parents": "false"}
    )
    assert orphan.code == 404
    assert not (local_root / "x").exists()


@pytest.mark.parametrize("source", WRITABLE)
async def test_copy_and_move_stay_on_the_server(proxy, source):
    await put(proxy, source, "src/one.txt", b"one")

    copied = await transfer(proxy, "copy", source, "src/one.txt", "dst/copy.txt")
    assert copied.code == 201
    assert body_json(copied)["size"] == 3
    assert (await proxy("files", source, "dst/copy.txt")).body == b"one"
    assert (await proxy("files", source, "src/one.txt")).body == b"one"

    moved = await transfer(proxy, "move", source, "src/one.txt", "dst/moved.txt")
    assert moved.code == 201
    assert (await proxy("files", source, "dst/moved.txt")).body == b"one"
    assert (await proxy("files", source, "src/one.txt")).code == 404

    assert (await transfer(proxy, "copy", source, "dst/copy.txt", "../../escape.txt")).code == 400
    assert (await transfer(proxy, "copy", source, "nope.txt", "x.txt")).code == 404
    bad_body = await proxy("api", "copy", source, "dst/copy.txt", method="POST", body=b"[1]")
    assert bad_body.code == 400


@pytest.mark.parametrize(
    ("method", "parts", "body"),
    [
        ("PUT", ("files", "Readonly", "new.txt"), b"x"),
        ("PUT", ("files", "Readonly", "kept.txt"), b"x"),
        ("DELETE", ("files", "Readonly", "kept.txt"), None),
        ("POST", ("api", "mkdir", "Readonly", "dir"), b""),
        ("POST", ("api", "copy", "Readonly", "kept.txt"), b'{"destination": "c.txt"}'),
        ("POST", ("api", "move", "Readonly", "kept.txt"), b'{"destination": "m.txt"}'),
    ],
)
async def test_readonly_source_refuses_every_write(proxy, readonly_root, method, parts, body):
    response = await proxy(*parts, method=method, body=body)
    assert response.code == 403
    assert body_json(response)["message"] == "Source 'Readonly' is readonly"
    assert sorted(p.name for p in readonly_root.iterdir()) == ["kept.txt"]
    assert (readonly_root / "kept.txt").read_text() == "do not touch"
    assert (await proxy("files", "Readonly", "kept.txt")).body == b"do not touch"


async def test_sources_listing_shows_availability_and_no_kwargs(proxy):
    response = await proxy("api", "sources")
    listing = body_json(response)
    by_name = {source["name"]: source for source in listing}
    assert set(by_name) == {"Scratch", "Local", "Readonly", "S3", "Broken", "S3Down"}
    assert by_name["S3"] == {
        "name": "S3",
        "protocol": "s3",
        "readonly": False,
        "available": True,
        "reason": None,
        "writable": True,
    }
    assert by_name["Readonly"]["readonly"] is True
    assert by_name["Readonly"]["writable"] is False
    assert by_name["Broken"]["available"] is False
    assert "nosuchprotocol" in by_name["Broken"]["reason"]
    unavailable = await proxy("api", "ls", "Broken")
    assert unavailable.code == 503
    assert "unavailable" in body_json(unavailable)["message"]


@pytest.mark.parametrize("source", WRITABLE)
async def test_an_empty_source_is_a_directory(proxy, source):
    """Tools check a root before they use it: empty, it is still a directory."""
    info = await proxy("api", "info", source)
    assert info.code == 200, info.body
    assert (body_json(info)["name"], body_json(info)["type"]) == (source, "directory")
    assert body_json(await proxy("api", "exists", source)) == {"exists": True}
    assert body_json(await proxy("api", "ls", source)) == []
