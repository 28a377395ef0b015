"""The config format, its merge with traits, and reconfiguration through the API."""

from __future__ import annotations

import re

import pytest
import yaml

from jupyter_fsspec_proxy.config import (
    DEFAULT_CONFIG,
    ConfigError,
    SourceSpec,
    load_file,
    merge,
    parse_yaml,
)
from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.routes import served
from jupyter_fsspec_proxy.testing.sources import SECRET


def test_default_config_has_conda_stats_and_scratch():
    specs = load_file(DEFAULT_CONFIG)
    assert [(s.name, s.readonly) for s in specs] == [("Conda Stats", True), ("Scratch", False)]
    assert specs[0].path == "s3://anaconda-package-data/conda/hourly/"
    assert specs[0].kwargs["anon"] is True
    assert specs[0].kwargs["config_kwargs"]["connect_timeout"] <= 5  # offline: fails fast


def test_prototype_format_parses():
    text = """
    sources:
      - name: inmemory
        path: memory://temp
      - name: S3
        path: s3://bucket/prefix
        kwargs: {key: K, secret: S}
        readonly: true
    """
    specs = parse_yaml(text, "prototype.yaml")
    assert specs[1] == SourceSpec("S3", "s3://bucket/prefix", {"key": "K", "secret": "S"}, True)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("sources: [", "invalid YAML at line 1"),
        ("- just a list", "expected a mapping with a 'sources' list"),
        ("sources: [{path: memory://x}]", "'name' must be a non-empty string"),
        ("sources: [{name: a/b, path: memory://x}]", "'name' must be"),
        ("sources: [{name: a}]", "'path' must be a non-empty string"),
        ("sources: [{name: a, path: m://, kwargs: [1]}]", "'kwargs' must be a mapping"),
        ("sources: [{name: a, path: m://, readonly: 'yes'}]", "'readonly' must be true or false"),
        ("sources: [{name: a, path: m://, colour: red}]", "unknown keys ['colour']"),
        ("sources: [{name: a, path: m://}, {name: a, path: m://}]", "duplicate source names ['a']"),
    ],
)
def test_bad_config_is_explained(text, complaint):
    with pytest.raises(ConfigError, match="given.yaml") as raised:
        parse_yaml(text, "given.yaml")
    assert complaint in str(raised.value)


def test_yaml_errors_never_quote_the_document():
    with pytest.raises(ConfigError) as raised:
        parse_yaml(f"sources:\n  - name: x\n    kwargs: {{secret: {SECRET}\n", "f.yaml")
    assert SECRET not in str(raised.value)


def test_trait_sources_replace_file_sources_of_the_same_name():
    file_specs = [SourceSpec("A", "memory://a"), SourceSpec("B", "memory://b")]
    merged = merge(file_specs, [SourceSpec("B", "memory://trait"), SourceSpec("C", "memory://c")])
    assert [(s.name, s.path) for s in merged] == [
        ("A", "memory://a"),
        ("B", "memory://trait"),
        ("C", "memory://c"),
    ]


async def test_reload_is_refused_unless_allowed(proxy):
    response = await proxy("api", "reload", method="POST", body=b"")
    assert response.code == 403
    assert "allow_reload" in body_json(response)["message"]
    posted = await proxy("api", "config", method="PUT", body=b"sources: []")
    assert posted.code == 403


@pytest.mark.parametrize("proxy_config", [{"allow_reload": True}])
async def test_reload_rereads_the_file(proxy, config_file):
    config_file.write_text(yaml.safe_dump({"sources": [{"name": "New", "path": "memory://n"}]}))
    response = await proxy("api", "reload", method="POST", body=b"")
    assert response.code == 200
    assert [s["name"] for s in body_json(response)] == ["New"]
    assert (await proxy("api", "ls", "Local")).code == 404


@pytest.mark.parametrize(
    "proxy_config", [{"allow_reload": True, "posted_source_roots": ["memory://o"]}]
)
async def test_posted_config_replaces_sources_atomically(proxy):
    await proxy("files", "Scratch", "keep.txt", method="PUT", body=b"kept")
    bad = await proxy(
        "api", "config", method="PUT", body=b"sources: [{name: Only, path: memory://o}, {name: x}]"
    )
    assert bad.code == 400
    assert "'path' must be a non-empty string" in body_json(bad)["message"]
    assert (await proxy("files", "Scratch", "keep.txt")).body == b"kept"

    good = await proxy(
        "api", "config", method="PUT", body=b'{"sources": [{"name": "Only", "path": "memory://o"}]}'
    )
    assert good.code == 200
    assert [s["name"] for s in body_json(await proxy("api", "sources"))] == ["Only"]


async def test_openapi_document_describes_every_route(proxy, jp_base_url):
    document = body_json(await proxy("api", "openapi.json"))
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": f"{jp_base_url}fsspec-proxy"}]
    api = {route for route in served() if route.startswith(("api", "files/", "client/", "signed/"))}
    assert api == {re.sub(r"\{\w+\}", "{}", path).removeprefix("/") for path in document["paths"]}


POSTING = {
    "allow_reload": True,
    "posted_source_roots": ["memory://shared", "s3://bucket/team/"],
    "posted_source_kwargs": ["anon"],
}


@pytest.mark.parametrize("proxy_config", [POSTING])
@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/", {}),
        ("file:///", {}),
        ("{config_dir}", {}),
        ("memory://", {}),
        ("memory://shared-not", {}),
        ("s3://bucket/team-other", {}),
        ("s3://bucket/team/../../", {}),
        ("http://169.254.169.254/latest", {}),
        ("reference://", {"fo": "/etc/passwd"}),
        ("simplecache::s3://bucket/team/x", {}),
        ("memory://shared/x", {"endpoint_url": "http://127.0.0.1:1"}),
    ],
)
async def test_posted_sources_cannot_widen_what_the_operator_allowed(
    proxy, config_file, path, kwargs
):
    path = path.format(config_dir=config_file.parent)
    document = {"sources": [{"name": "Mine", "path": path, "kwargs": kwargs}]}
    response = await proxy("api", "config", method="PUT", body=yaml.safe_dump(document))
    assert response.code in (400, 403), response.body
    names = [s["name"] for s in body_json(await proxy("api", "sources"))]
    assert "Mine" not in names and "Local" in names


@pytest.mark.parametrize("proxy_config", [POSTING])
async def test_posted_sources_below_the_allowed_roots_are_served(proxy):
    document = {"sources": [{"name": "Shared", "path": "memory://shared/x", "kwargs": {"anon": 1}}]}
    response = await proxy("api", "config", method="PUT", body=yaml.safe_dump(document))
    assert response.code == 200
    assert [s["name"] for s in body_json(response)] == ["Shared"]


@pytest.mark.slow
@pytest.mark.parametrize("proxy_config", [{**POSTING, "max_json_body": 1 << 20}])
async def test_posted_yaml_is_bounded(proxy):
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)},*{chr(97 + n)},*{chr(97 + n)}]\n".encode()
        for n in range(20)
    )
    response = await proxy("api", "config", method="PUT", body=bomb)
    assert response.code == 400  # refused at its first alias, before anything expands
    assert "aliases" in body_json(response)["message"]
    large = await proxy("api", "config", method="PUT", body=b"#" * (65 * 1024))
    assert large.code == 400
    nested = await proxy("api", "config", method="PUT", body=b"[" * 60_000)
    assert nested.code == 400
