"""What an attacker or a careless client sends gets a clear JSON 4xx, never a 500,
and no write is lost or doubled by a race."""

from __future__ import annotations

import asyncio
import os

import pytest

from jupyter_fsspec_proxy.testing.calls import body_json, raw_connection, transfer
from jupyter_fsspec_proxy.testing.sources import WRITABLE
from jupyter_fsspec_proxy.testing.standalone import standalone


@pytest.mark.parametrize("source", WRITABLE)
async def test_moving_a_directory_into_itself_is_refused_and_loses_nothing(proxy, source):
    for name in ("mvd/a.txt", "mvd/inner/b.txt"):
        assert (await proxy("files", source, name, method="PUT", body=b"kept")).code == 201
    for op in ("move", "copy"):
        refused = await transfer(proxy, op, source, "mvd", "mvd/inner", recursive=True)
        assert refused.code == 400, op
        assert "into itself" in body_json(refused)["message"]
    for name in ("mvd/a.txt", "mvd/inner/b.txt"):
        assert (await proxy("files", source, name)).body == b"kept"


@pytest.mark.parametrize("source", WRITABLE)
async def test_concurrent_create_only_uploads_make_exactly_one_winner(proxy, source):
    async def create(data: bytes):
        return await proxy(
            "files", source, "race.bin", method="PUT", body=data, headers={"If-None-Match": "*"}
        )

    bodies = [bytes([n]) * (4 << 20) for n in range(4)]
    answers = await asyncio.gather(*(create(body) for body in bodies))
    codes = sorted(answer.code for answer in answers)
    assert codes == [201, 412, 412, 412], codes
    winner = bodies[[a.code for a in answers].index(201)]
    assert (await proxy("files", source, "race.bin")).body == winner


@pytest.mark.parametrize("source", ["Scratch", "Local"])
async def test_concurrent_if_match_uploads_make_exactly_one_winner(proxy, source):
    created = await proxy("files", source, "m.bin", method="PUT", body=b"v0")
    etag = created.headers["ETag"]

    async def replace(n: int):
        return await proxy(
            "files", source, "m.bin", method="PUT", body=bytes([n]) * (2 << 20),
            headers={"If-Match": etag},
        )  # fmt: skip

    codes = sorted(answer.code for answer in await asyncio.gather(*map(replace, range(3))))
    assert codes == [201, 412, 412]


async def test_a_file_name_that_is_not_utf8_lists(proxy, local_root):
    os.close(os.open(os.fsencode(local_root) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))
    response = await proxy("api", "ls", "Local")
    assert response.code == 200
    assert len(body_json(response)) == 1


async def test_a_file_in_the_way_is_a_conflict_before_the_body(proxy, local_root):
    assert (await proxy("files", "Local", "hello.txt", method="PUT", body=b"hi")).code == 201
    below = await proxy("files", "Local", "hello.txt/child.txt", method="PUT", body=b"x")
    assert below.code == 409
    assert "is a file" in body_json(below)["message"]
    assert (local_root / "hello.txt").read_bytes() == b"hi"


async def test_mkdir_on_an_existing_file_is_a_conflict(proxy):
    assert (await proxy("files", "Scratch", "f.txt", method="PUT", body=b"x")).code == 201
    response = await proxy("api", "mkdir", "Scratch", "f.txt", method="POST", body=b"")
    assert response.code == 409


async def test_absurd_paths_and_ranges(raw, proxy):
    deep = "/".join(["d"] * 3000)
    for method in ("PUT", "GET"):
        response = await raw(
            f"files/Local/{deep}", method=method, body=b"x" if method == "PUT" else None
        )
        assert response.code == 400, method
    assert (await proxy("files", "Scratch", "r.txt", method="PUT", body=b"0123")).code == 201
    huge = "9" * 5000
    far = await proxy("files", "Scratch", "r.txt", headers={"Range": f"bytes={huge}-"})
    assert far.code == 416
    whole = await proxy("files", "Scratch", "r.txt", headers={"Range": f"bytes=1-{huge}"})
    assert (whole.code, whole.body) == (206, b"123")


@pytest.mark.parametrize(
    "route", ["api/ranges", "api/copy/Scratch/r.txt", "api/move/Scratch/r.txt"]
)
async def test_deeply_nested_json_is_a_400(raw, route):
    body = "[" * 100_000 + "]" * 100_000
    response = await raw(route, method="POST", body=body)
    assert response.code == 400
    assert body_json(response)["error"] == "BadRequest"


def raw_request(port: int, headers: dict[str, str], body: bytes = b"") -> bytes:
    """PUT what no well-behaved client would send; the whole answer (the server closes)."""
    headers = {**headers, "Connection": "close"}
    with raw_connection(port, "PUT", "files/Local/odd.bin", headers, body, timeout=10) as sock:
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


@pytest.mark.slow
def test_odd_content_lengths_and_oversized_chunked_uploads_get_json(tmp_path):
    token = "bad-input-token"
    args = ("run", f"--IdentityProvider.token={token}", "--ProxyManager.max_upload_size=10")
    with standalone(tmp_path, *args) as proxy:
        auth = {"Authorization": f"token {token}"}
        for length in ("\u00b2", "-1", "1e3", "0x10", "9" * 30):
            odd = raw_request(proxy.port, {**auth, "Content-Length": length})
            assert odd.startswith(b"HTTP/1.1 400"), (length, odd[:200])
        chunked = {**auth, "Transfer-Encoding": "chunked"}
        big = raw_request(proxy.port, chunked, b"20\r\n" + b"x" * 32 + b"\r\n0\r\n\r\n")
        assert big.startswith(b"HTTP/1.1 413"), big[:200]
        assert b'"error": "PayloadTooLarge"' in big
        assert not list((tmp_path / "data").iterdir())


@pytest.mark.parametrize("proxy_config", [{"allowed_origins": ["http://app.test"]}])
async def test_allowed_origins_can_read_error_answers(raw):
    response = await raw("files/Scratch/missing.txt", headers={"Origin": "http://app.test"})
    assert response.code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "http://app.test"


async def test_uploaded_files_get_the_usual_mode(proxy, local_root):
    old = os.umask(0o022)
    try:
        assert (await proxy("files", "Local", "m.txt", method="PUT", body=b"x")).code == 201
    finally:
        os.umask(old)
    assert (local_root / "m.txt").stat().st_mode & 0o777 == 0o644


async def test_refused_uploads_leave_no_directory(proxy, local_root):
    response = await proxy(
        "files", "Local", "new", "deep", "x.txt", method="PUT", body=b"x",
        headers={"If-Match": '"nothing-there"'},
    )  # fmt: skip
    assert response.code == 412
    assert list(local_root.iterdir()) == []


async def test_an_upload_cut_off_mid_body_leaves_no_directory(
    http_server_client, http_server_port, jp_base_url, jp_serverapp, local_root
):
    token = jp_serverapp.identity_provider.token
    _, writer = await asyncio.open_connection("127.0.0.1", http_server_port[-1])
    writer.write(
        f"PUT {jp_base_url}fsspec-proxy/files/Local/new/deep/x.bin HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: token {token}\r\n"
        f"Content-Length: {1 << 20}\r\n\r\n".encode()
        + b"only the start"
    )
    await writer.drain()
    await asyncio.sleep(0.3)  # the upload has started
    writer.transport.abort()
    await asyncio.sleep(0.3)
    assert list(local_root.iterdir()) == []


async def test_tokens_in_urls_never_reach_the_log(raw, jp_serverapp, server_logs):
    token = jp_serverapp.identity_provider.token
    response = await raw(f"api/ls/Local?detail=maybe&token={token}", auth=False)
    assert response.code == 400
    assert server_logs.lines
    assert not [line for line in server_logs.lines if token in line]
