"""Optional presigned reads: large S3 objects are answered with a redirect to a
short-lived URL, after auth and access; the bytes then bypass the proxy."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest
import s3fs
from fsspec_proxy_client import ProxyFileSystem

from jupyter_fsspec_proxy.config import ConfigError, parse_sources
from jupyter_fsspec_proxy.testing.sources import SECRET, s3_kwargs

MiB = 2**20
BIG = bytes(range(256)) * 8192  # 2 MiB


@pytest.fixture
def sources(s3_endpoint, s3_prefix):
    kwargs = s3_kwargs(s3_endpoint)
    return [
        {
            "name": "Direct",
            "path": f"s3://{s3_prefix}",
            "kwargs": {**kwargs, "config_kwargs": {"signature_version": "s3v4"}},  # as documented
            "presigned_reads": {"min_size": MiB, "expires": 60},
        },
        {"name": "Proxied", "path": f"s3://{s3_prefix}", "kwargs": kwargs},
    ]


@pytest.fixture
def objects(s3_endpoint, s3_prefix):
    s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    s3.pipe({f"{s3_prefix}/big.bin": BIG, f"{s3_prefix}/small.txt": b"small"})


@pytest.mark.slow
async def test_large_reads_redirect_to_a_short_lived_url(proxy, objects, s3_endpoint):
    answer = await proxy("files", "Direct", "big.bin", follow_redirects=False)
    assert answer.code == 307
    assert answer.headers["Cache-Control"] == "no-store"
    location = answer.headers["Location"]
    assert location.startswith(f"{s3_endpoint}/")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "X-Amz-Signature" in query
    assert query["X-Amz-Expires"] == ["60"]
    assert SECRET not in location and SECRET not in str(answer.headers)

    small = await proxy("files", "Direct", "small.txt")
    assert (small.code, small.body) == (200, b"small")  # under min_size: the proxy sends it
    head = await proxy("files", "Direct", "big.bin", method="HEAD")
    assert (head.code, head.headers["Content-Length"]) == (200, str(len(BIG)))
    same = await proxy("files", "Proxied", "big.bin")
    assert (same.code, same.body) == (200, BIG)  # off by default


async def test_redirects_come_only_after_auth_and_validators(proxy, raw, objects):
    wrong = {"Authorization": "token wrong"}
    refused = await raw("files/Direct/big.bin", auth=False, headers=wrong, follow_redirects=False)
    assert refused.code == 403 and "Location" not in refused.headers
    etag = (await proxy("files", "Direct", "big.bin", method="HEAD")).headers["ETag"]
    unchanged = await proxy(
        "files", "Direct", "big.bin", headers={"If-None-Match": etag}, follow_redirects=False
    )
    assert unchanged.code == 304
    missing = await proxy("files", "Direct", "nothing.bin", follow_redirects=False)
    assert missing.code == 404


async def test_the_client_follows_without_sending_its_token(
    jp_serverapp, http_server, jp_http_port, jp_base_url, objects
):
    fs = ProxyFileSystem(
        endpoint_url=f"http://127.0.0.1:{jp_http_port}{jp_base_url}fsspec-proxy/",
        token=jp_serverapp.identity_provider.token,
        skip_instance_cache=True,
    )

    def reads():
        # S3 refuses a request that carries both a signature and a token header.
        assert fs.cat_file("Direct/big.bin") == BIG
        assert fs.cat_file("Direct/big.bin", start=1000, end=1010) == BIG[1000:1010]
        with fs.open("Direct/big.bin", "rb", block_size=65536) as f:
            f.seek(MiB + 5)
            assert f.read(3) == BIG[MiB + 5 : MiB + 8]
        return fs.info("Direct/big.bin")["size"]

    assert await asyncio.to_thread(reads) == len(BIG)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "/tmp", "presigned_reads": {}}, "needs an s3://, gs://"),
        ({"path": "s3://b", "presigned_reads": {"expires": 0}}, "expires must be"),
        ({"path": "s3://b", "presigned_reads": {"expires": 10**9}}, "expires must be"),
        ({"path": "s3://b", "presigned_reads": {"min_size": -1}}, "min_size must be"),
        ({"path": "s3://b", "presigned_reads": {"min_size": "1M"}}, "min_size must be"),
        ({"path": "s3://b", "presigned_reads": {"after": 1}}, "takes min_size"),
        ({"path": "s3://b", "presigned_reads": True}, "takes min_size"),
    ],
)
def test_presigned_reads_are_validated_at_load(entry, message):
    with pytest.raises(ConfigError, match=message):
        parse_sources([{"name": "S", **entry}], "proxy.yaml")


async def test_presigned_urls_never_serve_a_page(proxy, s3_endpoint, s3_prefix):
    """The URL tells S3 how to answer (its response-* parameters are part of what is
    signed): an HTML page as a download of no type, a CSV as the proxy names it,
    whatever type each was stored with. moto 5 ignores these parameters (real S3
    and MinIO honour them), so the test reads the signed URL, not moto's answer."""
    s3 = s3fs.S3FileSystem(**s3_kwargs(s3_endpoint), skip_instance_cache=True)
    stored_as_html = {
        "page.html": b"<script>alert(1)</script>" * 50_000,
        "d.csv": b"a,b\n" * 400_000,
    }
    for name, data in stored_as_html.items():
        s3.pipe_file(f"{s3_prefix}/{name}", data, ContentType="text/html")
    for name, shown, disposition in (
        ("page.html", "application/octet-stream", ["attachment; filename*=UTF-8''page.html"]),
        ("d.csv", "text/csv; charset=utf-8", None),
    ):
        answer = await proxy("files", "Direct", name, follow_redirects=False)
        assert answer.code == 307
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["response-content-type"] == [shown]
        assert query.get("response-content-disposition") == disposition
