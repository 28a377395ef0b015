"""Symlinks in a local source are never followed out of its root, by any route, and
what is opened is checked (not a path checked and opened later)."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_fsspec_proxy.access import Caller
from jupyter_fsspec_proxy.testing.calls import body_json, transfer
from jupyter_fsspec_proxy.testing.sources import manager_of

SECRET_TEXT = b"outside secret"


@pytest.fixture
def pack(local_root):
    """``pack/`` with a file and a link to a file outside the root; ``outdir/`` outside."""
    outside = local_root.parent / "outdir"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET_TEXT)
    (local_root / "pack").mkdir()
    (local_root / "pack" / "ok.txt").write_text("fine")
    os.symlink(outside / "secret.txt", local_root / "pack" / "leak.txt")
    return outside


def no_secret_inside(local_root) -> bool:
    return all(
        SECRET_TEXT not in p.read_bytes()
        for p in local_root.rglob("*")
        if p.is_file() and not p.is_symlink()
    )


async def test_recursive_copy_refuses_a_tree_with_a_link_out(proxy, local_root, pack):
    response = await transfer(proxy, "copy", "Local", "pack", "copied", recursive=True)
    assert response.code == 403
    assert "leak.txt" in body_json(response)["message"]
    assert not (local_root / "copied").exists()
    assert no_secret_inside(local_root)


async def test_copy_paths_are_literal_not_globs(proxy, local_root, pack):
    response = await transfer(proxy, "copy", "Local", "pack/le*", "globbed", recursive=True)
    assert response.code == 404
    assert not (local_root / "globbed").exists()
    assert no_secret_inside(local_root)


async def test_copying_or_reading_the_link_itself_is_refused(proxy, local_root, pack):
    assert (await transfer(proxy, "copy", "Local", "pack/leak.txt", "stolen.txt")).code == 403
    assert (await proxy("files", "Local", "pack", "leak.txt")).code == 403
    info = await proxy("api", "info", "Local", "pack", "leak.txt")
    assert (body_json(info)["type"], body_json(info)["size"]) == ("other", 0)
    assert no_secret_inside(local_root)


async def test_listing_shows_a_link_out_without_its_target(proxy, pack):
    entries = {e["name"]: e for e in body_json(await proxy("api", "ls", "Local", "pack"))}
    assert entries["Local/pack/leak.txt"]["type"] == "other"
    assert entries["Local/pack/leak.txt"]["size"] == 0
    assert entries["Local/pack/ok.txt"] == {**entries["Local/pack/ok.txt"], "size": 4}


async def test_deleting_a_link_deletes_the_link(proxy, local_root, pack):
    inside = local_root / "real.txt"
    inside.write_text("keep me")
    os.symlink(inside, local_root / "alias.txt")
    assert (await proxy("files", "Local", "alias.txt", method="DELETE")).code == 204
    assert not (local_root / "alias.txt").is_symlink()
    assert inside.read_text() == "keep me"
    assert (await proxy("files", "Local", "pack", "leak.txt", method="DELETE")).code == 204
    assert (pack / "secret.txt").read_bytes() == SECRET_TEXT


async def test_recursive_delete_removes_links_not_targets(proxy, local_root, pack):
    os.symlink(pack, local_root / "pack" / "dir-link")
    response = await proxy("files", "Local", "pack", method="DELETE", params={"recursive": "true"})
    assert response.code == 204
    assert not (local_root / "pack").exists()
    assert (pack / "secret.txt").read_bytes() == SECRET_TEXT


async def test_moving_a_link_moves_the_link(proxy, local_root, pack):
    moved = await transfer(proxy, "move", "Local", "pack/leak.txt", "moved-link")
    assert (moved.code, body_json(moved)["type"]) == (201, "other")
    assert (local_root / "moved-link").is_symlink()
    assert not (local_root / "pack" / "leak.txt").exists()
    assert (pack / "secret.txt").read_bytes() == SECRET_TEXT
    assert no_secret_inside(local_root)


async def test_writes_never_go_through_a_link_out(proxy, local_root, pack):
    put = await proxy("files", "Local", "pack", "leak.txt", method="PUT", body=b"overwrite")
    assert put.code == 403
    copy = await transfer(proxy, "copy", "Local", "pack/ok.txt", "pack/leak.txt")
    assert copy.code == 403
    assert (pack / "secret.txt").read_bytes() == SECRET_TEXT


async def test_a_path_checked_then_swapped_is_refused_when_opened(jp_serverapp, local_root, pack):
    """The race of a batch: a path resolved while it was a directory inside the root
    and read after it became a link out (as ``api/move`` can arrange)."""
    (local_root / "x").mkdir()
    (local_root / "x" / "secret.txt").write_text("inside")
    manager = manager_of(jp_serverapp)
    source = manager.source("Local", Caller("tester"))
    full = source.full_path("x/secret.txt")
    os.rename(local_root / "x", local_root / "old-x")
    os.symlink(pack, local_root / "x")
    with pytest.raises(Exception) as refused:
        async for _ in source.backend.read(full, 0, None, 1024):
            pass
    assert getattr(refused.value, "status_code", None) == 403


async def test_batched_ranges_never_read_through_a_link_out(proxy, local_root, pack):
    os.symlink(pack, local_root / "dir-link")
    ranges = {"ranges": [{"path": "Local/dir-link/secret.txt"}, {"path": "Local/pack/ok.txt"}]}
    response = await proxy("api", "ranges", method="POST", body=json.dumps(ranges))
    assert response.code == 200
    assert SECRET_TEXT not in response.body
    assert b'"status": 403' in response.body and b"fine" in response.body
