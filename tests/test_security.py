"""Confinement, secrets, authentication, XSRF and CORS."""

from __future__ import annotations

import json
import os

import pytest
from jupyter_server.auth import Authorizer

from jupyter_fsspec_proxy.auth import AUTH_RESOURCE
from jupyter_fsspec_proxy.handlers.base import ProxyHandler
from jupyter_fsspec_proxy.testing.calls import body_json
from jupyter_fsspec_proxy.testing.routes import route_of, served, verbs
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, SECRET

OUTSIDE = "sentinel outside the root"

TRAVERSALS = [
    "..",
    "../outside.txt",
    "a/../../outside.txt",
    "%2e%2e/outside.txt",
    "%2E%2E/outside.txt",
    ".%2e/outside.txt",
    "%252e%252e/outside.txt",
    "%25252e%25252e/outside.txt",
    "..%2foutside.txt",
    "..%252foutside.txt",
    "%2e%2e%2foutside.txt",
    "..%5coutside.txt",
    "..\\outside.txt",
    "%5c..%5coutside.txt",
    "%c0%ae%c0%ae/outside.txt",
    "%c0%2e%c0%2e/outside.txt",
    "%e0%80%ae%e0%80%ae/outside.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "a//b",
    "./outside.txt",
    "a/./b",
    "outside.txt%00",
    "outside.txt%00.png",
    "%00",
    "C:%5cWindows",
    "passwd-link",
    "dir-link/outside.txt",
    "dir-link/../outside.txt",
    "..%2f..%2foutside.txt",
    "%2e%2e%2f%2e%2e%2foutside.txt",
    "%2E%2E%2Foutside.txt",
    "%2e%2e%5coutside.txt",
    "..%5c..%5coutside.txt",
    "%252e%252e%252foutside.txt",
    "..%c0%afoutside.txt",
    "..%c1%9coutside.txt",
    "%c0%ae%c0%ae%c0%afoutside.txt",
    "..%00/outside.txt",
    "%2e%2e/%2e%2e/outside.txt",
    "a/%2e%2e/%2e%2e/outside.txt",
    "a/b/../../../outside.txt",
    "%2e/outside.txt",
    ".%2e%2foutside.txt",
    "%2e./outside.txt",
    "/../outside.txt",
    "%2f..%2foutside.txt",
    "\\\\server\\share",
    "%5c%5cserver%5cshare",
    "file:%2f%2f%2fetc%2fpasswd",
    "a%00b",
    "%ff%fe",
]
SOURCE_NAMES = ["..", "%2e%2e", ".", "%2e", "%2fetc", "Local%2f..", "Local%2f%2e%2e", "Local%5c.."]
ROUTES = [
    ("GET", "files"),
    ("HEAD", "files"),
    ("PUT", "files"),
    ("GET", "api/ls"),
    ("GET", "api/info"),
    ("POST", "api/mkdir"),
    ("POST", "api/uploads"),
    ("PUT", "api/uploads"),
    ("GET", "api/uploads"),
    ("DELETE", "api/uploads"),
    ("POST", "api/sign"),
    ("DELETE", "files"),  # last: deleting a link itself is allowed (below)
]


@pytest.fixture
def links(local_root):
    os.symlink(local_root.parent / "outside.txt", local_root / "passwd-link")
    os.symlink(local_root.parent, local_root / "dir-link")


def outside_state(local_root) -> list:
    parent = local_root.parent
    return sorted((p.name, p.stat().st_size) for p in parent.iterdir() if p.is_file())


async def assert_refused_on_every_route(raw, local_root, path: str) -> None:
    """Every verb of every route refuses ``path``; nothing outside the root changes.
    A symlink in the root that leads out is described as itself (``other``, no size)
    and deleted as itself, never its target."""
    before = outside_state(local_root)
    is_link = (local_root / path.partition("/")[2]).is_symlink()
    for method, route in ROUTES:
        body = b"overwritten" if method in ("PUT", "POST") else None
        response = await raw(f"{route}/{path}", method=method, body=body)
        allowed = (400, 403, 404, 409)
        if is_link and (method, route) in (("DELETE", "files"), ("GET", "api/info")):
            allowed += (204,) if method == "DELETE" else (200,)  # the link itself, as "other"
        assert response.code in allowed, (method, route, response.code)
        if response.code == 200:
            assert body_json(response)["type"] == "other"
        assert OUTSIDE.encode() not in (response.body or b"")
        assert b"root:" not in (response.body or b"")
    assert outside_state(local_root) == before
    assert (local_root.parent / "outside.txt").read_text() == OUTSIDE


@pytest.mark.parametrize("payload", TRAVERSALS)
async def test_traversal_never_reaches_outside_the_root(raw, local_root, links, payload):
    await assert_refused_on_every_route(raw, local_root, f"Local/{payload}")


# What docs/security.md says the corpus holds, and a payload of each kind.
DOCUMENTED = {
    "plain ..": "../",
    "percent-encoded once": "%2e%2e/",
    "twice": "%252e%252e/",
    "three times": "%25252e%25252e/",
    "overlong UTF-8": "%c0%ae",
    "backslashes": "..\\",
    "NUL bytes": "%00",
    "absolute paths": "/etc/passwd",
    "//": "//etc",
    "symlinks out of a local source": "dir-link/",
}


@pytest.mark.parametrize("marker", DOCUMENTED.values(), ids=DOCUMENTED.keys())
def test_the_corpus_has_every_kind_that_security_md_names(marker):
    assert any(marker in payload for payload in TRAVERSALS), marker


@pytest.mark.parametrize("name", SOURCE_NAMES)
async def test_source_names_that_are_paths_are_refused(raw, local_root, name):
    await assert_refused_on_every_route(raw, local_root, f"{name}/outside.txt")


async def test_dot_dot_semicolon_is_an_ordinary_name_inside_the_root(raw, local_root):
    assert (await raw("files/Local/..;/outside.txt", method="PUT", body=b"in")).code == 201
    assert (local_root / "..;" / "outside.txt").read_bytes() == b"in"
    assert (local_root.parent / "outside.txt").read_text() == OUTSIDE


async def test_symlinks_inside_the_root_still_work(proxy, local_root):
    (local_root / "real.txt").write_text("inside")
    os.symlink(local_root / "real.txt", local_root / "alias.txt")
    assert (await proxy("files", "Local", "alias.txt")).body == b"inside"


async def test_secrets_never_leave_the_server(proxy, server_logs):
    exchanges = [
        await proxy("files", "S3", "s.txt", method="PUT", body=b"data"),
        await proxy("files", "S3", "s.txt"),
        await proxy("files", "S3", "missing.txt"),
        await proxy("api", "ls", "S3"),
        await proxy("api", "info", "S3", "nope"),
        await proxy("api", "sources"),
        await proxy("api", "ls", "Broken"),
        await proxy("api", "ls", "S3Down"),
        await proxy("files", "Scratch", "m.txt", method="PUT", body=b"memory"),
        await proxy("api", "ls", "Scratch"),
        await proxy("files", "Scratch", "missing"),
        await proxy("files", "Local", "l.txt", method="PUT", body=b"local"),
        await proxy("api", "info", "Local", "missing"),
        await proxy("api", "copy", "Local", "l.txt", method="POST", body=b'{"destination": 1}'),
        await proxy("files", "S3Down", "x.txt"),
        await proxy("files", "S3Down", "x.txt", method="PUT", body=b"x"),
        await proxy(
            "api", "ranges", method="POST", body=json.dumps({"ranges": [{"path": "S3Down/x"}]})
        ),
    ]
    failed = exchanges[7]  # S3Down: the backend fails
    assert failed.code == 502
    assert body_json(failed)["message"] == "S3Down: could not connect to the storage endpoint"
    for response in exchanges:
        text = (response.body or b"").decode() + str(dict(response.headers))
        assert SECRET not in text
        assert ACCESS_KEY not in text
    assert server_logs.lines
    for line in server_logs.lines:
        assert SECRET not in line
        assert ACCESS_KEY not in line


async def test_requests_without_valid_credentials_are_refused(raw, local_root):
    assert (await raw("api/sources", auth=False)).code == 403
    wrong = {"Authorization": "token not-the-token"}
    assert (await raw("api/sources", auth=False, headers=wrong)).code == 403
    refused = await raw("files/Local/new.txt", auth=False, method="PUT", body=b"x", headers=wrong)
    assert refused.code == 403
    assert not (local_root / "new.txt").exists()


def cookie_header(response) -> str:
    return "; ".join(c.split(";")[0] for c in response.headers.get_list("Set-Cookie"))


async def test_cookie_writes_need_the_xsrf_token(raw, jp_serverapp, local_root):
    token = jp_serverapp.identity_provider.token
    login = await raw(f"api/xsrf?token={token}", auth=False)
    cookie, xsrf = cookie_header(login), body_json(login)["xsrf_token"]

    read = await raw("api/sources", auth=False, headers={"Cookie": cookie})
    assert read.code == 200
    forged = await raw(
        "files/Local/a.txt", auth=False, method="PUT", body=b"x", headers={"Cookie": cookie}
    )
    assert forged.code == 403
    assert not (local_root / "a.txt").exists()
    allowed = await raw(
        "files/Local/a.txt",
        auth=False,
        method="PUT",
        body=b"x",
        headers={"Cookie": cookie, "X-XSRFToken": xsrf},
    )
    assert allowed.code == 201
    assert (local_root / "a.txt").read_bytes() == b"x"


PREFLIGHT = {
    "Origin": "http://elsewhere.test:9999",
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization",
    "Access-Control-Request-Private-Network": "true",
}


async def test_other_origins_get_no_cors_grant(raw):
    preflight = await raw("files/Scratch/x", auth=False, method="OPTIONS", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Private-Network" not in preflight.headers
    actual = await raw("api/sources", headers={"Origin": PREFLIGHT["Origin"]})
    assert actual.code == 404
    assert "Access-Control-Allow-Origin" not in actual.headers


@pytest.mark.parametrize("proxy_config", [{"allowed_origins": ["http://elsewhere.test:9999"]}])
async def test_configured_origins_are_granted(raw):
    preflight = await raw("files/Scratch/x", auth=False, method="OPTIONS", headers=PREFLIGHT)
    assert preflight.code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == PREFLIGHT["Origin"]
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Private-Network" not in preflight.headers  # 'private' mode only
    actual = await raw("api/sources", headers={"Origin": PREFLIGHT["Origin"]})
    assert actual.code == 200
    assert actual.headers["Access-Control-Allow-Origin"] == PREFLIGHT["Origin"]
    assert actual.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in actual.headers["Vary"]


@pytest.mark.parametrize("proxy_config", [{"allowed_origins": ["*"]}])
async def test_any_origin_never_comes_with_credentials(raw):
    actual = await raw("api/sources", headers={"Origin": "http://any.test"})
    assert actual.headers["Access-Control-Allow-Origin"] == "http://any.test"
    assert "Access-Control-Allow-Credentials" not in actual.headers


class RecordingAuthorizer(Authorizer):
    """Allows everything and remembers what was asked."""

    asked: list[tuple[str, str]] = []

    def is_authorized(self, handler, user, action, resource):
        self.asked.append((action, resource))
        return True


class DenyingAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return False


EVERY_ROUTE = [
    ("GET", "api", None, "read"),
    ("GET", "api/sources", None, "read"),
    ("GET", "api/xsrf", None, "read"),
    ("GET", "api/openapi.json", None, "read"),
    ("GET", "api/ls/Scratch", None, "read"),
    ("GET", "api/info/Scratch/f", None, "read"),
    ("GET", "api/exists/Scratch/f", None, "read"),
    ("POST", "api/ranges", b'{"ranges": [{"path": "Scratch/f"}]}', "read"),
    ("GET", "files/Scratch/f", None, "read"),
    ("HEAD", "files/Scratch/f", None, "read"),
    ("PUT", "files/Scratch/g", b"x", "write"),
    ("POST", "api/mkdir/Scratch/d", b"", "write"),
    ("POST", "api/copy/Scratch/f", b'{"destination": "c"}', "write"),
    ("POST", "api/move/Scratch/c", b'{"destination": "m"}', "write"),
    ("DELETE", "files/Scratch/m", None, "write"),
    ("POST", "api/reload", b"", "write"),
    ("PUT", "api/config", b"sources: []", "write"),
    ("POST", "api/uploads/Scratch/u", b"", "write"),
    ("PUT", "api/uploads/Scratch/u?id=x&offset=0", b"x", "write"),
    ("GET", "api/uploads/Scratch/u?id=x", None, "read"),
    ("DELETE", "api/uploads/Scratch/u?id=x", None, "write"),
    ("POST", "api/sign/Scratch/f", b"{}", "read"),
    # public: the token is the proof, no Jupyter authorizer is asked
    ("GET", "signed/not-a-token", None, None),
    ("HEAD", "signed/not-a-token", None, None),
    ("GET", "signed/not-a-token/f", None, None),
    ("HEAD", "signed/not-a-token/f", None, None),
]


def test_every_route_is_called_and_nothing_else():
    # client/: the same wheels and indexes for everyone, no one asked (test_served_client)
    expected = {
        (verb, route)
        for route, handler in served().items()
        if issubclass(handler, ProxyHandler) and not route.startswith("client/")
        for verb in verbs(handler)
    }
    assert {(method, route_of(path)) for method, path, *_ in EVERY_ROUTE} == expected


@pytest.mark.parametrize("authorizer_class", [RecordingAuthorizer])
async def test_every_handler_authorizes_the_proxy_resource(raw, proxy):
    await proxy("files", "Scratch", "f", method="PUT", body=b"data")
    for method, path, body, action in EVERY_ROUTE:
        RecordingAuthorizer.asked.clear()
        await raw(path, method=method, body=body)
        expected = set() if action is None else {(action, AUTH_RESOURCE)}
        assert set(RecordingAuthorizer.asked) == expected, (method, path)


@pytest.mark.parametrize("authorizer_class", [DenyingAuthorizer])
async def test_denied_users_get_403_everywhere(raw, local_root):
    for method, path, body, _ in EVERY_ROUTE:
        response = await raw(path.replace("Scratch", "Local"), method=method, body=body)
        assert response.code == 403, (method, path)
    assert list(local_root.iterdir()) == []
