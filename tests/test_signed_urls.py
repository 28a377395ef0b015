"""Signed URLs: ``POST api/sign`` makes a URL that any HTTP client can read without a
login, served exactly as ``files/``, refused once expired, altered, or no longer
allowed by the rules."""

from __future__ import annotations

import asyncio
import base64
import getpass
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from jupyter_fsspec_proxy.access import Caller
from jupyter_fsspec_proxy.signing import UrlSigner, signing_key
from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.processes import free_port
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, SECRET, s3_kwargs
from jupyter_fsspec_proxy.testing.standalone import standalone

ME = getpass.getuser()
DATA = b"a,b\n1,2\n" * 1000


@pytest.fixture
def sources(sources, local_root, s3_endpoint, s3_prefix) -> list[dict]:
    return [
        *sources,
        {"name": "Mine", "path": f"memory://mine-{uuid.uuid4().hex}",
         "access": {"write": [f"user:{ME}"]}},
        {"name": "Home", "path": f"{local_root}/homes/{{username}}"},
        {"name": "Direct", "path": f"s3://{s3_prefix}", "kwargs": s3_kwargs(s3_endpoint),
         "presigned_reads": {"min_size": 0}},
    ]  # fmt: skip


@pytest.fixture
def anyone(http_server_client):
    """A request to a path of the server, with no token and no cookie."""

    async def fetch(url: str, **kwargs):
        return await http_server_client.fetch(url, raise_error=False, **kwargs)

    return fetch


@pytest.fixture
def sign(proxy):
    async def signed(path: str, body: dict | None = None, **kwargs):
        data = json.dumps(body).encode() if body is not None else b""
        return await proxy("api", "sign", *path.split("/"), method="POST", body=data, **kwargs)

    return signed


async def signed_url(proxy, sign, path: str, **body) -> str:
    await proxy("files", *path.split("/"), method="PUT", body=DATA)
    answer = await sign(path, body)
    assert answer.code == 200, answer.body
    return body_json(answer)["url"]


@pytest.mark.parametrize("source", ["Local", "Scratch", "S3"])
async def test_anyone_with_the_url_reads_the_file_as_files_serves_it(
    proxy, sign, anyone, source, jp_base_url
):
    await proxy("files", source, "t", "data.csv", method="PUT", body=DATA)
    answer = await sign(f"{source}/t/data.csv")
    assert answer.code == 200
    grant = body_json(answer)
    url = grant["url"]
    assert url.startswith(f"{jp_base_url}fsspec-proxy/signed/") and url.endswith("/data.csv")
    assert time.time() + 290 < grant["expires"] <= time.time() + 301  # the default: 5 minutes
    assert SECRET not in url and ACCESS_KEY not in url

    got = await anyone(url)
    assert (got.code, got.body) == (200, DATA)
    direct = await proxy("files", source, "t", "data.csv")
    assert got.headers["Content-Disposition"] == (
        "attachment; filename=\"data.csv\"; filename*=UTF-8''data.csv"
    )
    for header in ("Content-Type", "ETag", "Content-Security-Policy", "X-Content-Type-Options"):
        assert got.headers[header] == direct.headers[header], header
    assert got.headers["Content-Security-Policy"].startswith("sandbox")
    part = await anyone(url, headers={"Range": "bytes=2-5"})
    assert (part.code, part.body) == (206, DATA[2:6])
    assert part.headers["Content-Range"] == f"bytes 2-5/{len(DATA)}"
    fresh = await anyone(url, headers={"If-None-Match": got.headers["ETag"]})
    assert fresh.code == 304
    head = await anyone(url, method="HEAD")
    assert (head.code, head.headers["Content-Length"]) == (200, str(len(DATA)))
    for method in ("PUT", "DELETE", "POST"):
        body = None if method == "DELETE" else b"x"
        assert (await anyone(url, method=method, body=body)).code == 405
    assert (await proxy("files", source, "t", "data.csv")).body == DATA


def payload(url: str) -> dict:
    token = url.split("/signed/")[1].split("/")[0]
    encoded = token.rpartition(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def with_payload(url: str, changed: dict) -> str:
    """The URL with its payload replaced and its MAC kept."""
    head, _, rest = url.partition("/signed/")
    token, _, name = rest.partition("/")
    mac = token.rpartition(".")[2]
    encoded = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    return f"{head}/signed/{encoded}.{mac}/{name}"


async def test_a_token_holds_names_and_expiry_only(proxy, sign):
    url = await signed_url(proxy, sign, "S3/k.bin")
    assert set(payload(url)) == {"path", "expires", "user", "kind", "groups", "admin"}
    assert payload(url)["path"] == "S3/k.bin" and payload(url)["user"] == ME


async def test_altered_foreign_and_expired_urls_are_refused(proxy, sign, anyone):
    await proxy("files", "Local", "other.txt", method="PUT", body=b"OTHER-FILE")
    url = await signed_url(proxy, sign, "Local/data.csv")
    token = url.split("/signed/")[1].split("/")[0]
    foreign, _ = UrlSigner(signing_key("", "")).sign("Local/data.csv", Caller(ME), 60)
    later = {**payload(url), "expires": payload(url)["expires"] + 3600}
    refused = {
        "other path": with_payload(url, {**payload(url), "path": "Local/other.txt"}),
        "longer life": with_payload(url, later),
        "other user": with_payload(url, {**payload(url), "user": "admin"}),
        "made admin": with_payload(url, {**payload(url), "admin": True}),
        "another kind": with_payload(url, {**payload(url), "kind": "service"}),
        "altered MAC": url.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),
        "no MAC": url.replace(token, token.rpartition(".")[0]),
        "another key": url.replace(token, foreign),
        "not a token": url.replace(token, "not-a-token"),
        "overlong": url.replace(token, "A" * 20000 + "." + token.rpartition(".")[2]),
    }
    for what, bad in refused.items():
        answer = await anyone(bad)
        assert answer.code == 403, what
        assert body_json(answer)["error"] == "SignedUrlRefused", what
        assert b"OTHER-FILE" not in answer.body

    short = body_json(await sign("Local/data.csv", {"expires": 1}))
    while time.time() < short["expires"]:  # on the clock, not a guess at speed
        await asyncio.sleep(0.1)
    expired = await anyone(short["url"])
    assert (expired.code, body_json(expired)["message"]) == (403, "This signed URL has expired")


async def test_another_site_may_embed_a_signed_url_even_with_a_login_cookie(
    proxy, raw, sign, anyone, jp_serverapp
):
    url = await signed_url(proxy, sign, "Scratch/picture.csv")
    login = await raw(f"api/xsrf?token={jp_serverapp.identity_provider.token}", auth=False)
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    embedded = {"Cookie": cookie, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site"}
    assert (await raw("files/Scratch/picture.csv", auth=False, headers=embedded)).code == 403
    answer = await anyone(url, headers=embedded)  # <img src>, say: the URL is the proof
    assert (answer.code, answer.body) == (200, DATA)


async def test_the_file_name_in_the_url_only_decorates(proxy, sign, anyone):
    url = await signed_url(proxy, sign, "Scratch/report.csv")
    renamed = await anyone(url.rpartition("/")[0] + "/page.html")
    assert (renamed.code, renamed.body) == (200, DATA)
    assert renamed.headers["Content-Type"].startswith("text/csv")
    assert 'filename="report.csv"' in renamed.headers["Content-Disposition"]
    bare = await anyone(url.rpartition("/")[0])
    assert (bare.code, bare.body) == (200, DATA)


@pytest.mark.parametrize("proxy_config", [{"allow_reload": True}])
async def test_a_signer_who_loses_access_loses_the_url(proxy, sign, anyone, config_file, sources):
    url = await signed_url(proxy, sign, "Mine/a.csv")
    assert (await anyone(url)).code == 200
    revoked = [
        {**s, "access": {"write": ["user:someone-else"]}} if s["name"] == "Mine" else s
        for s in sources
    ]
    config_file.write_text(yaml.safe_dump({"sources": revoked}))
    assert (await proxy("api", "reload", method="POST", body=b"")).code == 200
    refused = await anyone(url)
    assert refused.code == 403 and "may no longer read" in body_json(refused)["message"]

    kept = await signed_url(proxy, sign, "Scratch/kept.csv")
    config_file.write_text(
        yaml.safe_dump({"sources": [s for s in sources if s["name"] != "Scratch"]})
    )
    assert (await proxy("api", "reload", method="POST", body=b"")).code == 200
    assert (await anyone(kept)).code == 403  # the source is gone


async def test_a_per_user_url_reads_the_signers_own_file(proxy, sign, anyone, local_root):
    url = await signed_url(proxy, sign, "Home/notes.csv")
    assert (local_root / "homes" / ME / "notes.csv").read_bytes() == DATA
    assert (await anyone(url)).body == DATA


async def test_a_presigned_source_redirects_as_files_does(proxy, sign, anyone, s3_endpoint):
    url = await signed_url(proxy, sign, "Direct/big.csv")
    answer = await anyone(url, follow_redirects=False)
    assert answer.code == 307
    assert answer.headers["Location"].startswith(s3_endpoint)
    assert SECRET not in answer.headers["Location"]


async def test_signing_needs_a_login_and_a_readable_file(proxy, raw, sign, local_root):
    (local_root / "link-out").symlink_to(local_root.parent / "outside.txt")
    (local_root / "folder").mkdir()
    await proxy("files", "Local", "f.txt", method="PUT", body=b"f")
    refusals = {
        "no login": (await raw("api/sign/Local/f.txt", auth=False, method="POST", body=b"")).code,
        "wrong token": (
            await raw(
                "api/sign/Local/f.txt",
                auth=False,
                method="POST",
                body=b"",
                headers={"Authorization": "token wrong"},
            )  # fmt: skip
        ).code,
        "missing file": (await sign("Local/missing.txt")).code,
        "folder": (await sign("Local/folder")).code,
        "root": (await sign("Local")).code,
        "link out": (await sign("Local/link-out")).code,
        "no source": (await sign("Nowhere/f.txt")).code,
    }
    assert refusals == {
        "no login": 403,
        "wrong token": 403,
        "missing file": 404,
        "folder": 400,
        "root": 400,
        "link out": 403,
        "no source": 404,
    }
    for bad in [0, -1, "60", True, None, 3601, 1e300, [60], {"s": 1}]:
        answer = await sign("Local/f.txt", {"expires": bad})
        assert answer.code == 400, bad
    assert (await sign("Local/f.txt", {"expires": 3600})).code == 200


class TestAudit:
    @pytest.fixture
    def proxy_config(self, tmp_path) -> dict:
        return {"audit_log": str(tmp_path / "audit.jsonl")}

    async def test_reads_through_a_url_are_audited_as_the_signer(
        self, proxy, sign, anyone, tmp_path
    ):
        url = await signed_url(proxy, sign, "Scratch/a.csv")
        await anyone(url)
        forged = url.replace("/signed/", "/signed/x")
        await anyone(forged)
        lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert [(r["user"], r["operation"], r["path"], r["status"]) for r in lines] == [
            (ME, "PUT files", "a.csv", 201),
            (ME, "POST api/sign", "a.csv", 200),
            (ME, "GET signed", "a.csv", 200),
            (None, "GET signed", "", 403),  # a forged URL: no signer, no path, no token
        ]
        token = forged.split("/signed/")[1].split("/")[0]
        assert token[:40] not in (tmp_path / "audit.jsonl").read_text()


@pytest.mark.slow
def test_replicas_that_share_a_key_accept_each_others_urls(tmp_path):
    key = tmp_path / "signing.key"
    key.write_text("a shared key of replicas, 32 bytes or so\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "shared.txt").write_text("shared")
    config = {"sources": [{"name": "Local", "path": str(data)}]}
    homes = []
    for name in ("a", "b", "c"):
        home = tmp_path / name
        home.mkdir()
        (home / "proxy.yaml").write_text(yaml.safe_dump(config))
        homes.append(home)
    shared = f"--ProxyManager.signing_key_file={key}"
    with (
        standalone(homes[0], "dev", shared) as a,
        standalone(homes[1], "dev", shared) as b,
        standalone(homes[2], "dev") as c,
    ):
        answer, body = a.request("POST", "api/sign/Local/shared.txt", b"{}")
        assert answer.status == 200
        path = json.loads(body)["url"]
        for replica, status in ((a, 200), (b, 200), (c, 403)):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}{path}") as got:
                    assert (got.status, got.read()) == (status, b"shared")
            except urllib.error.HTTPError as error:
                assert error.code == status


@pytest.mark.slow
def test_an_unreadable_key_file_stops_the_start(tmp_path):
    (tmp_path / "proxy.yaml").write_text("sources: []")
    missing = f"--ProxyManager.signing_key_file={tmp_path / 'missing.key'}"
    env = {**os.environ, "FSSPEC_PROXY_CONFIG": str(tmp_path / "proxy.yaml"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path)}  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "jupyter_fsspec_proxy",
        "run",
        missing,
        f"--port={free_port()}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "signing_key_file" in done.stderr + done.stdout
