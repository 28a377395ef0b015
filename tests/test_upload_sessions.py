"""Upload sessions (``api/uploads``): a file in pieces, streamed into the backend's
upload, committed whole on the last piece, and nothing left when it is cancelled,
expires, fails or is refused."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import s3fs
import yaml

from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.processes import Peak, PeakRSS, folder_bytes, wait_until
from jupyter_fsspec_proxy.testing.sources import WRITABLE, manager_of, s3_kwargs, staged_uploads
from jupyter_fsspec_proxy.testing.standalone import Proxy, standalone

MiB = 2**20
PIECES = [os.urandom(5 * MiB + 17), os.urandom(4 * MiB), os.urandom(3 * MiB + 5)]  # past a part


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch) -> Path:
    """The server's temporary folder (where memory-source uploads are staged)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def s3(s3_endpoint) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)


@pytest.fixture
def uploads(proxy):
    """Requests of the upload protocol, as a client sends them."""

    class Client:
        async def open(self, path: str, headers: dict | None = None, **kwargs):
            return await proxy(
                "api", "uploads", *path.split("/"), method="POST", body=b"", headers=headers,
                **kwargs,
            )  # fmt: skip

        async def send(self, path: str, upload_id: str, offset: int | str, data: bytes, **query):
            params = {"id": upload_id, "offset": str(offset), **query}
            return await proxy(
                "api", "uploads", *path.split("/"), method="PUT", body=data, params=params,
                headers={"Content-Type": "application/octet-stream"},
            )  # fmt: skip

        async def status(self, path: str, upload_id: str):
            return await proxy("api", "uploads", *path.split("/"), params={"id": upload_id})

        async def cancel(self, path: str, upload_id: str):
            params = {"id": upload_id}
            return await proxy("api", "uploads", *path.split("/"), method="DELETE", params=params)

        async def whole(self, path: str, pieces: list[bytes], headers: dict | None = None):
            """Open, send every piece, the last with last=true: the last answer."""
            opened = await self.open(path, headers)
            assert opened.code == 201, opened.body
            upload_id, offset = body_json(opened)["id"], 0
            for number, piece in enumerate(pieces, 1):
                last = {"last": "true"} if number == len(pieces) else {}
                answer = await self.send(path, upload_id, offset, piece, **last)
                if last or answer.code != 200:
                    return answer
                offset += len(piece)

    return Client()


def in_progress(s3: s3fs.S3FileSystem, prefix: str) -> list[str]:
    """The multipart uploads S3 holds below ``prefix``."""
    bucket, _, key = prefix.partition("/")
    answer = s3.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def sessions(jp_serverapp) -> int:
    return len(manager_of(jp_serverapp).uploads)


async def exists(proxy, path: str) -> bool:
    return body_json(await proxy("api", "exists", *path.split("/")))["exists"]


@pytest.mark.parametrize("source", WRITABLE)
async def test_pieces_become_the_file_at_the_last_one(
    proxy, uploads, source, s3, s3_prefix, scratch_tmp
):
    path = f"{source}/in/pieces.bin"
    opened = await uploads.open(path)
    assert opened.code == 201
    created = body_json(opened)
    assert created["offset"] == 0 and created["expires"] > time.time()
    offset = 0
    for piece in PIECES[:-1]:
        answer = await uploads.send(path, created["id"], offset, piece)
        offset += len(piece)
        assert (answer.code, body_json(answer)["offset"]) == (200, offset)
        assert not await exists(proxy, path)  # nothing at the target before the last piece
        assert (await uploads.status(path, created["id"])).code == 200
    if source == "S3":  # past one part: the parts are in S3 already, not on the server
        assert in_progress(s3, s3_prefix) == [f"{s3_prefix.partition('/')[2]}/in/pieces.bin"]

    done = await uploads.send(path, created["id"], offset, PIECES[-1], last="true")
    assert done.code == 201, done.body
    meta = body_json(done)
    assert (meta["name"], meta["type"], meta["size"]) == (path, "file", sum(map(len, PIECES)))
    assert done.headers["ETag"] == meta["etag"]
    assert (await proxy("files", *path.split("/"))).body == b"".join(PIECES)
    assert (await uploads.status(path, created["id"])).code == 404  # the session is over
    assert staged_uploads(scratch_tmp) == []
    if source == "S3":
        assert in_progress(s3, s3_prefix) == []


@pytest.mark.parametrize("source", WRITABLE)
async def test_a_cancelled_upload_leaves_nothing(
    proxy, uploads, source, local_root, s3, s3_prefix, scratch_tmp, jp_serverapp
):
    path = f"{source}/gone.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    offset = 0
    for piece in PIECES[:2]:  # a part and more on S3
        assert (await uploads.send(path, upload_id, offset, piece)).code == 200
        offset += len(piece)
    assert staged_uploads(local_root, scratch_tmp) or source == "S3"  # staged meanwhile

    assert (await uploads.cancel(path, upload_id)).code == 204
    assert staged_uploads(local_root, scratch_tmp) == []
    await until(lambda: in_progress(s3, s3_prefix) == [], "no multipart upload is left")
    assert not await exists(proxy, path)
    assert (await uploads.send(path, upload_id, offset, PIECES[2], last="true")).code == 404
    assert sessions(jp_serverapp) == 0


@pytest.mark.slow
@pytest.mark.parametrize("proxy_config", [{"upload_idle_timeout": 3.0}])
@pytest.mark.parametrize("source", ["Local", "S3"])
async def test_an_abandoned_upload_expires_and_is_aborted(
    proxy, uploads, source, local_root, s3, s3_prefix, jp_serverapp
):
    path = f"{source}/abandoned.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    assert (await uploads.send(path, upload_id, 0, PIECES[0] * 3)).code == 200  # > one part
    if source == "S3":
        assert in_progress(s3, s3_prefix)
    else:
        assert staged_uploads(local_root)

    await until(lambda: sessions(jp_serverapp) == 0, "the sweep aborted the session")
    assert staged_uploads(local_root) == []
    await until(lambda: in_progress(s3, s3_prefix) == [], "the multipart upload is aborted")
    assert (await uploads.status(path, upload_id)).code == 404
    assert not await exists(proxy, path)


async def until(condition, what: str, timeout: float = 30) -> None:
    """Wait (letting the server's loop run) until ``condition()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("source", WRITABLE)
async def test_of_two_create_only_uploads_one_wins(proxy, uploads, source):
    path = f"{source}/race.bin"
    create = {"If-None-Match": "*"}
    first = body_json(await uploads.open(path, create))["id"]
    second = body_json(await uploads.open(path, create))["id"]
    assert (await uploads.send(path, first, 0, b"first ")).code == 200
    assert (await uploads.send(path, second, 0, b"second ")).code == 200
    won = await uploads.send(path, second, 7, b"wins", last="true")
    lost = await uploads.send(path, first, 6, b"loses", last="true")
    assert (won.code, lost.code) == (201, 412)
    assert body_json(lost)["error"] == "PreconditionFailed"
    assert (await proxy("files", source, "race.bin")).body == b"second wins"
    assert (await uploads.status(path, first)).code == 404  # a failed commit ends it too


@pytest.mark.parametrize("source", WRITABLE)
async def test_conditions_are_checked_at_creation_and_at_commit(proxy, uploads, source):
    path = f"{source}/kept.txt"
    etag = (await proxy("files", source, "kept.txt", method="PUT", body=b"v1")).headers["ETag"]
    assert (await uploads.open(path, {"If-None-Match": "*"})).code == 412
    assert (await uploads.open(path, {"If-Match": '"not-it"'})).code == 412
    replace = body_json(await uploads.open(path, {"If-Match": etag}))["id"]
    assert (await uploads.send(path, replace, 0, b"v2 from a session")).code == 200
    await proxy("files", source, "kept.txt", method="PUT", body=b"changed meanwhile")
    late = await uploads.send(path, replace, 17, b"", last="true")
    assert late.code == 412
    assert (await proxy("files", source, "kept.txt")).body == b"changed meanwhile"
    assert (await uploads.open(path, {"If-Match": etag})).code == 412  # v1 is gone


async def test_refusals_come_before_any_state(
    proxy, raw, uploads, local_root, readonly_root, jp_serverapp
):
    (local_root / "file").write_text("a file")
    (local_root / "folder").mkdir()
    refused = [
        (await raw("api/uploads/Local/new.bin", auth=False, method="POST", body=b"")).code,
        (await uploads.open("Readonly/new.bin")).code,
        (await uploads.open("Nowhere/new.bin")).code,
        (await uploads.open("Local/file/below.bin")).code,
        (await uploads.open("Local")).code,
        (await uploads.open("Local/../outside.txt")).code,
        (await uploads.open("Local/folder")).code,  # its last piece could only fail
    ]
    assert refused == [403, 403, 404, 409, 400, 400, 400]
    assert sessions(jp_serverapp) == 0
    assert staged_uploads(local_root, readonly_root) == []
    assert sorted(p.name for p in local_root.iterdir()) == ["file", "folder"]


async def test_a_piece_without_a_login_is_refused_and_the_session_kept(uploads, raw, local_root):
    upload_id = body_json(await uploads.open("Local/mine.bin"))["id"]
    stolen = f"api/uploads/Local/mine.bin?id={upload_id}&offset=0"
    for headers in ({}, {"Authorization": "token wrong"}):
        refused = await raw(stolen, auth=False, method="PUT", body=b"evil", headers=headers)
        assert refused.code == 403
    assert (await raw(stolen, auth=False)).code == 403  # GET
    assert body_json(await uploads.status("Local/mine.bin", upload_id))["offset"] == 0
    assert (await uploads.send("Local/mine.bin", upload_id, 0, b"mine", last="true")).code == 201
    assert (local_root / "mine.bin").read_bytes() == b"mine"


async def test_hostile_pieces_get_clear_answers(proxy, uploads, local_root):
    path = "Local/target.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    other_id = body_json(await uploads.open("Local/other.bin"))["id"]
    assert (await uploads.send(path, upload_id, 0, b"12345")).code == 200
    answers = {
        "unknown id": await uploads.send(path, "x" * 32, 5, b"6"),
        "no id": await proxy(
            "api", "uploads", "Local", "target.bin", method="PUT", body=b"6", params={"offset": "5"}
        ),  # fmt: skip
        "another path's id": await uploads.send(path, other_id, 0, b"6"),
        "negative offset": await uploads.send(path, upload_id, -1, b"6"),
        "not a number": await uploads.send(path, upload_id, "5.0", b"6"),
        "30 digits": await uploads.send(path, upload_id, "9" * 30, b"6"),
        "huge offset": await uploads.send(path, upload_id, 2**63 - 1, b"6"),
        "offset behind": await uploads.send(path, upload_id, 0, b"6"),
        "bad last": await uploads.send(path, upload_id, 5, b"6", last="maybe"),
    }
    codes = {what: answer.code for what, answer in answers.items()}
    assert codes == {
        "unknown id": 404,
        "no id": 400,
        "another path's id": 404,
        "negative offset": 400,
        "not a number": 400,
        "30 digits": 400,
        "huge offset": 409,
        "offset behind": 409,
        "bad last": 400,
    }
    for answer in answers.values():
        assert set(body_json(answer)) >= {"error", "message"}
    mismatch = body_json(answers["huge offset"])
    assert (mismatch["error"], mismatch["offset"]) == ("OffsetMismatch", 5)
    done = await uploads.send(path, upload_id, 5, b"6", last="true")  # resumes where it was
    assert done.code == 201
    assert (local_root / "target.bin").read_bytes() == b"123456"


@pytest.mark.parametrize("proxy_config", [{"max_upload_size": 4 * MiB}])
async def test_an_upload_over_the_limit_is_refused_and_discarded(
    proxy, uploads, local_root, jp_serverapp
):
    path = "Local/big.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    assert (await uploads.send(path, upload_id, 0, b"x" * (3 * MiB))).code == 200
    too_much = await uploads.send(path, upload_id, 3 * MiB, b"x" * (2 * MiB))
    assert (too_much.code, body_json(too_much)["error"]) == (413, "PayloadTooLarge")
    assert staged_uploads(local_root) == [] and sessions(jp_serverapp) == 0
    assert (await uploads.send(path, upload_id, 3 * MiB, b"x")).code == 404

    chunked_id = body_json(await uploads.open(path))["id"]
    assert (await uploads.send(path, chunked_id, 0, b"x" * (3 * MiB))).code == 200

    async def body(write):  # no Content-Length: the limit applies as the body arrives
        for _ in range(4):
            await write(b"y" * (MiB // 2))

    streamed = await proxy(
        "api", "uploads", "Local", "big.bin", method="PUT", body_producer=body,
        params={"id": chunked_id, "offset": str(3 * MiB)},
    )  # fmt: skip
    assert streamed.code == 413
    assert staged_uploads(local_root) == [] and sessions(jp_serverapp) == 0
    assert not (local_root / "big.bin").exists()


async def test_two_pieces_at_once_one_wins(proxy, uploads, local_root):
    path = "Local/busy.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    halfway, go_on = asyncio.Event(), asyncio.Event()

    async def slow_body(write):
        await write(b"a" * 1000)
        halfway.set()
        await go_on.wait()
        await write(b"b" * 1000)

    first = asyncio.ensure_future(
        proxy(
            "api",
            "uploads",
            "Local",
            "busy.bin",
            method="PUT",
            body_producer=slow_body,
            headers={"Content-Length": "2000"},
            params={"id": upload_id, "offset": "0"},
        )  # fmt: skip
    )
    await halfway.wait()
    second = await uploads.send(path, upload_id, 0, b"c" * 2000)
    go_on.set()
    assert (await first).code == 200
    assert (second.code, body_json(second)["error"]) == (409, "OffsetMismatch")
    assert "being received" in body_json(second)["message"]
    assert (await uploads.send(path, upload_id, 2000, b"", last="true")).code == 201
    assert (local_root / "busy.bin").read_bytes() == b"a" * 1000 + b"b" * 1000


@pytest.mark.parametrize(
    ("proxy_config", "status"),
    [
        ({"max_upload_sessions_per_user": 2}, 429),
        ({"max_upload_sessions": 2, "max_upload_sessions_per_user": 5}, 503),
    ],
)
async def test_open_sessions_are_bounded(proxy, uploads, status, jp_serverapp):
    ids = [body_json(await uploads.open(f"Scratch/{n}.bin"))["id"] for n in range(2)]
    over = await uploads.open("Scratch/3.bin")
    assert over.code == status
    assert 1 <= int(over.headers["Retry-After"]) <= 300
    assert sessions(jp_serverapp) == 2
    await uploads.cancel("Scratch/0.bin", ids[0])
    assert (await uploads.open("Scratch/3.bin")).code == 201  # room again


@pytest.mark.parametrize("proxy_config", [{"allow_reload": True}])
async def test_a_writer_who_loses_access_cannot_continue(
    proxy, uploads, config_file, sources, local_root
):
    path = "Local/revoked.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    assert (await uploads.send(path, upload_id, 0, b"part")).code == 200
    readonly = [{**s, "readonly": True} if s["name"] == "Local" else s for s in sources]
    config_file.write_text(yaml.safe_dump({"sources": readonly}))
    assert (await proxy("api", "reload", method="POST", body=b"")).code == 200
    assert (await uploads.send(path, upload_id, 4, b"more", last="true")).code == 403
    assert (await uploads.cancel(path, upload_id)).code == 403

    config_file.write_text(yaml.safe_dump({"sources": sources}))  # writable, a new backend
    assert (await proxy("api", "reload", method="POST", body=b"")).code == 200
    gone = await uploads.send(path, upload_id, 4, b"more", last="true")
    assert gone.code == 404 and "source changed" in body_json(gone)["message"]
    assert staged_uploads(local_root) == [] and not (local_root / "revoked.bin").exists()


@pytest.mark.parametrize("proxy_config", [{"upload_idle_timeout": 1.0}])
async def test_a_piece_that_stalls_is_cut_off_and_nothing_kept(
    uploads, local_root, jp_http_port, jp_base_url, jp_serverapp
):
    upload_id = body_json(await uploads.open("Local/stalled.bin"))["id"]
    token = jp_serverapp.identity_provider.token
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    target = f"{jp_base_url}fsspec-proxy/api/uploads/Local/stalled.bin?id={upload_id}&offset=0"
    writer.write(
        f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n"
        f"Content-Length: {MiB}\r\n\r\n".encode()
        + b"x" * 1000
    )  # then nothing more
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert staged_uploads(local_root) == [] and sessions(jp_serverapp) == 0
    assert (await uploads.status("Local/stalled.bin", upload_id)).code == 404


class TestAudit:
    @pytest.fixture
    def proxy_config(self, tmp_path) -> dict:
        return {"audit_log": str(tmp_path / "audit.jsonl")}

    async def test_every_request_of_a_session_is_audited(self, uploads, tmp_path):
        await audited_session(uploads, tmp_path / "audit.jsonl")


async def audited_session(uploads, audit: Path) -> None:
    path = "Scratch/audited.bin"
    upload_id = body_json(await uploads.open(path))["id"]
    piece = await uploads.send(path, upload_id, 0, b"12345")
    await uploads.status(path, upload_id)
    await uploads.send(path, "not-an-id", 5, b"x")
    await uploads.cancel(path, upload_id)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["operation"], r["path"], r["status"]) for r in records] == [
        ("POST api/uploads", "audited.bin", 201),
        ("PUT api/uploads", "audited.bin", 200),
        ("GET api/uploads", "audited.bin", 200),
        ("PUT api/uploads", "audited.bin", 404),
        ("DELETE api/uploads", "audited.bin", 204),
    ]
    assert records[1]["bytes"] == 5 + len(piece.body)  # received and sent


# -- a real socket: the standalone proxy ---------------------------------------------


def session_request(proxy: Proxy, method: str, path: str, body: bytes | None = None, **query):
    """One request of the upload protocol: (status, JSON answer)."""
    answer, data = proxy.request(method, f"api/uploads/{path}?{urlencode(query)}", body)
    return answer.status, json.loads(data) if data else None


@pytest.mark.slow
def test_an_upload_resumes_after_a_dropped_connection(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        status, created = session_request(proxy, "POST", "Local/resumed.bin", b"")
        assert status == 201
        upload_id = created["id"]
        data = os.urandom(3 * MiB)
        assert session_request(proxy, "PUT", "Local/resumed.bin", data[:MiB],
                               id=upload_id, offset=0)[0] == 200  # fmt: skip

        cut = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        cut.putrequest("PUT", f"/fsspec-proxy/api/uploads/Local/resumed.bin?id={upload_id}"
                       f"&offset={MiB}")  # fmt: skip
        cut.putheader("Content-Length", str(MiB))
        cut.endheaders()
        cut.send(data[MiB : MiB + MiB // 2])
        cut.close()  # half a piece, then the connection is gone

        def resumed() -> bool:
            status, answer = session_request(proxy, "GET", "Local/resumed.bin", id=upload_id)
            assert status == 200
            if answer["offset"] != MiB + MiB // 2:
                return False
            rest = data[answer["offset"] :]
            offset = answer["offset"]
            status, _ = session_request(
                proxy, "PUT", "Local/resumed.bin", rest, id=upload_id, offset=offset, last="true"
            )
            return status == 201  # 409 while the server still sees the cut piece arriving

        wait_until(resumed, "the upload resumed where the cut piece ended")
        assert (tmp_path / "data" / "resumed.bin").read_bytes() == data


GiB = 2**30
PIECE_SIZE = 8 * MiB


def send_in_pieces(proxy: Proxy, path: str, size: int) -> str:
    """Upload ``size`` bytes of distinct 8 MiB pieces; their sha256."""
    status, created = session_request(proxy, "POST", path, b"")
    assert status == 201, created
    digest, block = hashlib.sha256(), bytearray(os.urandom(PIECE_SIZE))
    for number, offset in enumerate(range(0, size, PIECE_SIZE)):
        block[:8] = number.to_bytes(8, "big")  # each piece differs: order matters
        last = {"last": "true"} if offset + PIECE_SIZE >= size else {}
        status, answer = session_request(
            proxy, "PUT", path, bytes(block), id=created["id"], offset=offset, **last
        )
        assert status == (201 if last else 200), answer
        digest.update(block)
    return digest.hexdigest()


def read_back(proxy: Proxy, path: str) -> str:
    """The sha256 of a file as the proxy serves it, read as it streams."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=120)
    connection.request("GET", f"/fsspec-proxy/files/{path}")
    answer, digest = connection.getresponse(), hashlib.sha256()
    assert answer.status == 200
    while block := answer.read(PIECE_SIZE):
        digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["Local", "S3"])
def test_a_gibibyte_in_pieces_keeps_the_server_small(
    tmp_path, monkeypatch, source, s3_endpoint, s3_prefix
):
    server_tmp, data = tmp_path / "server-tmp", tmp_path / "data"
    server_tmp.mkdir()
    data.mkdir()
    monkeypatch.setenv("TMPDIR", str(server_tmp))  # where a server would spool
    sources = [
        {"name": "Local", "path": str(data)},
        {"name": "S3", "path": f"s3://{s3_prefix}", "kwargs": s3_kwargs(s3_endpoint)},
    ]
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    with standalone(tmp_path, "dev") as proxy:
        assert proxy.request("GET", f"api/ls/{source}")[0].status == 200  # backends loaded
        spooled, staged = Peak(lambda: folder_bytes(server_tmp)), Peak(lambda: folder_bytes(data))
        with PeakRSS(proxy.process.pid) as memory, spooled, staged:
            expected = send_in_pieces(proxy, f"{source}/big.bin", GiB)
        assert read_back(proxy, f"{source}/big.bin") == expected
    assert memory.growth_mib < 64, f"the server grew {memory.growth_mib:.0f} MiB for 1 GiB"
    assert spooled.peak == 0  # never staged in the server's temporary folder
    assert staged.peak <= GiB  # local: one staged copy beside the target, renamed into place
    if source == "S3":
        s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
        assert s3.info(f"{s3_prefix}/big.bin")["size"] == GiB
        assert in_progress(s3, s3_prefix) == []
    print(f"{source}: 1 GiB in 8 MiB pieces, server RSS +{memory.growth_mib:.1f} MiB")
