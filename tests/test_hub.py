"""The proxy as a JupyterHub service: per-user and per-group access, per-user paths,
the audit log, and secrets that reach no user. A real hub, a real S3 (moto)."""

from __future__ import annotations

import http.client
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from fsspec_proxy_client import ProxyFileSystem

from jupyter_fsspec_proxy.testing.browser import chromium, offline_folder
from jupyter_fsspec_proxy.testing.hub import PASSWORD, SERVICE_TOKEN, Hub, jupyterhub
from jupyter_fsspec_proxy.testing.processes import wait_until
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, BUCKET, SECRET, s3_kwargs

pytestmark = pytest.mark.hub

USERS = {"alice": ["analysts"], "bob": ["viewers"], "carol": [], "hubadmin": []}
ADMINS = frozenset({"hubadmin"})
POSTED_ROOT = f"memory://hub-posted-{uuid.uuid4().hex}"
MiB = 2**20
TRAVERSALS = [
    "..",
    "../alice",
    "%2e%2e/alice",
    "%252e%252e/alice",
    "..%2falice",
    "/alice",
    "a/../..",
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory, s3_endpoint) -> Iterator[Hub]:
    home = tmp_path_factory.mktemp("hub")
    prefix = f"{BUCKET}/{uuid.uuid4().hex}"
    sources = [
        {
            "name": "Team",
            "path": f"s3://{prefix}/team",
            "kwargs": s3_kwargs(s3_endpoint),
            "access": {"read": ["group:analysts", "user:carol"], "write": ["group:analysts"]},
        },
        {
            "name": "Home",
            "path": f"s3://{prefix}/home/{{username}}",
            "kwargs": s3_kwargs(s3_endpoint),
            "access": {"read": ["*"], "write": ["*"]},
        },
        {"name": "Everyone", "path": f"memory://hub-{uuid.uuid4().hex}"},
        {
            "name": "Vault",
            "path": f"{POSTED_ROOT}/vault",
            "access": {"read": ["user:carol"], "write": ["user:carol"]},
        },
        {
            "name": "ForServices",
            "path": str(home / "for-services"),
            "access": {"read": ["service:carol"]},
        },
    ]
    (home / "for-services").mkdir()
    (home / "for-services" / "note.txt").write_bytes(b"for services")
    config = home / "proxy.yaml"
    config.write_text(yaml.safe_dump({"sources": sources}))
    audit = home / "audit.jsonl"
    static = offline_folder(home / "app-static")  # the app offline, as in docs/pyscript.md
    prefix = "/services/fsspec-proxy/static"  # Jupyter's static files, under the service
    options = [
        f"--ProxyManager.audit_log={audit}",
        f"--ServerApp.extra_static_paths={static / 'static'}",
        f"--FsspecProxy.app_pyscript_url={prefix}/pyscript/",
        f"--FsspecProxy.app_interpreter_url={prefix}/pyodide/pyodide.mjs",
        f"--FsspecProxy.app_npm_url={prefix}/npm/",
        "--ProxyManager.allow_reload=True",
        "--ProxyManager.config_admins=user:alice",
        f"--ProxyManager.posted_source_roots={POSTED_ROOT}",
    ]
    with jupyterhub(home, config, USERS, options, ADMINS) as running:
        running.audit = audit
        yield running


def client(hub: Hub, user: str) -> ProxyFileSystem:
    return ProxyFileSystem(
        endpoint_url=hub.proxy_url, token=hub.token_for(user), skip_instance_cache=True
    )


def answered(request: urllib.request.Request | str) -> tuple[int, bytes]:
    """The status and body of one request (a URL alone: fetched as anyone would, with
    no token and no cookie)."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def raw(hub: Hub, user: str | None, method: str, path: str, body: bytes | None = None):
    """One request through the hub's proxy: (status, body)."""
    headers = {"Authorization": f"token {hub.token_for(user)}"} if user else {}
    request = urllib.request.Request(
        hub.proxy_url + path, data=body, method=method, headers=headers
    )
    return answered(request)


def test_each_user_sees_and_may_do_what_the_rules_say(hub):
    alice, bob, carol = (client(hub, user) for user in ("alice", "bob", "carol"))
    listed = {
        user: {s["name"]: s["writable"] for s in fs.sources()}
        for user, fs in (("alice", alice), ("bob", bob), ("carol", carol))
    }
    assert listed == {
        "alice": {"Team": True, "Home": True, "Everyone": True},
        "bob": {"Home": True, "Everyone": True},
        "carol": {"Team": False, "Home": True, "Everyone": True, "Vault": True},
    }
    alice.pipe_file("Team/plan.txt", b"team plan")
    assert carol.cat_file("Team/plan.txt") == b"team plan"
    with pytest.raises(PermissionError, match="not write"):
        carol.pipe_file("Team/carol.txt", b"no")
    hidden = raw(hub, "bob", "GET", "files/Team/plan.txt")
    missing = raw(hub, "bob", "GET", "files/NoSuchSource/plan.txt")
    assert hidden[0] == missing[0] == 404
    assert json.loads(hidden[1])["message"].replace("Team", "X") == json.loads(missing[1])[
        "message"
    ].replace("NoSuchSource", "X")  # the same answer: names do not leak
    assert raw(hub, "bob", "PUT", "files/Team/x.txt", b"x")[0] == 404
    assert not alice.exists("Team/x.txt") and not alice.exists("Team/carol.txt")


def test_an_upload_session_belongs_to_the_user_who_opened_it(hub):
    path = "api/uploads/Everyone/shared-upload.bin"
    status, opened = raw(hub, "alice", "POST", path, b"")
    assert status == 201
    query = f"?id={json.loads(opened)['id']}&offset=0"
    for method, body in (("PUT", b"bob's"), ("GET", None), ("DELETE", None)):
        status, answer = raw(hub, "bob", method, path + query, body)
        assert status == 404, method  # as for an id that does not exist
        assert b"No such upload" in answer
    done = raw(hub, "alice", "PUT", path + query + "&last=true", b"alice's")
    assert done[0] == 201, done
    assert client(hub, "bob").cat_file("Everyone/shared-upload.bin") == b"alice's"


def test_a_signed_url_reads_as_its_signer_with_the_signers_groups(hub):
    alice, bob = client(hub, "alice"), client(hub, "bob")
    alice.pipe_file("Team/for-the-team.txt", b"team only")
    alice.pipe_file("Home/private.txt", b"alice's own")
    for path, data in (
        ("Team/for-the-team.txt", b"team only"),
        ("Home/private.txt", b"alice's own"),
    ):
        url = alice.sign(path)  # Team: alice may read it through her group
        assert url.startswith(f"{hub.proxy_url}signed/")
        with urllib.request.urlopen(url, timeout=30) as answer:  # no token, no cookie
            assert answer.read() == data
    with pytest.raises(FileNotFoundError):
        bob.sign("Team/for-the-team.txt")  # hidden from bob, as for any request
    bob.pipe_file("Home/private.txt", b"bob's own")
    with urllib.request.urlopen(bob.sign("Home/private.txt"), timeout=30) as answer:
        assert answer.read() == b"bob's own"
    alice.rm("Home/private.txt")  # the users' homes as the other tests expect them
    bob.rm("Home/private.txt")


def test_per_user_paths_are_isolated(hub):
    alice, bob = client(hub, "alice"), client(hub, "bob")
    alice.pipe_file("Home/diary.txt", b"alice's")
    bob.pipe_file("Home/diary.txt", b"bob's")
    assert alice.cat_file("Home/diary.txt") == b"alice's"
    assert bob.cat_file("Home/diary.txt") == b"bob's"
    assert bob.ls("Home", detail=False) == ["Home/diary.txt"]
    for payload in TRAVERSALS:
        status, body = raw(hub, "bob", "GET", f"files/Home/{payload}/diary.txt")
        assert status in (400, 403, 404), (payload, status)
        assert b"alice's" not in body
    assert alice.cat_file("Home/diary.txt") == b"alice's"


def test_without_a_hub_token_nothing_is_served(hub):
    assert raw(hub, None, "GET", "api/sources")[0] == 403
    assert raw(hub, None, "PUT", "files/Everyone/x.txt", b"x")[0] == 403
    bad = urllib.request.Request(
        hub.proxy_url + "api/sources", headers={"Authorization": "token not-a-hub-token"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=30)
    assert refused.value.code == 403


def test_audit_log_has_one_line_per_request_with_its_user(hub):
    before = hub.audit.read_text().splitlines() if hub.audit.exists() else []
    alice = client(hub, "alice")
    alice.pipe_file("Everyone/audited.txt", b"12345")
    alice.cat_file("Everyone/audited.txt")
    assert raw(hub, "bob", "GET", "files/Team/secret-plan.txt")[0] == 404

    def users_lines() -> list[dict]:
        """This test's records: an earlier test's refused anonymous request may be
        recorded (user null) after ``before`` was read."""
        written = [json.loads(line) for line in hub.audit.read_text().splitlines()[len(before) :]]
        return [entry for entry in written if entry["user"] is not None]

    wait_until(  # a line is written just after its answer is sent
        lambda: len(users_lines()) >= 3, "the three audit lines are written", timeout=30
    )
    lines = users_lines()
    summary = [(e["user"], e["operation"], e["source"], e["path"], e["status"]) for e in lines]
    assert summary == [
        ("alice", "PUT files", "Everyone", "audited.txt", 201),
        ("alice", "GET files", "Everyone", "audited.txt", 200),
        ("bob", "GET files", "Team", "secret-plan.txt", 404),
    ]
    assert lines[0]["bytes"] >= 5 and lines[1]["bytes"] >= 5
    for entry in lines:
        assert {"time", "duration_ms", "request_id"} <= set(entry)
        assert hub.tokens["alice"] not in json.dumps(entry)


def test_secrets_reach_no_user_and_no_log(hub):
    alice = client(hub, "alice")
    answers = [
        raw(hub, "alice", "GET", "api/sources"),
        raw(hub, "alice", "GET", "api/ls/Team"),
        raw(hub, "alice", "GET", "files/Team/missing.txt"),
        raw(hub, "alice", "GET", "api/info/Home/nothing"),
    ]
    alice.pipe_file("Home/check.txt", b"x")
    for _, body in answers:
        assert SECRET.encode() not in body and ACCESS_KEY.encode() not in body
    text = hub.log.read_text() + hub.audit.read_text()
    assert SECRET not in text and ACCESS_KEY not in text
    model = hub.api("GET", "users/alice")
    assert not model.get("servers")  # no user server, so no environment to leak into


# What c.Spawner.server_token_scopes gives a user's server in docs/jupyterhub.md.
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=fsspec-proxy",
]


def test_a_kernel_needs_only_the_hub_environment(hub, monkeypatch):
    """In a user's server: FSSPEC_PROXY_ENDPOINT_URL from c.Spawner.environment, and
    the JUPYTERHUB_API_TOKEN the hub gives every server."""
    monkeypatch.setenv("FSSPEC_PROXY_ENDPOINT_URL", hub.proxy_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.token_for("alice", SERVER_TOKEN_SCOPES))
    monkeypatch.delenv("FSSPEC_PROXY_TOKEN", raising=False)
    with fsspec.open("proxy://Team/from-kernel.txt", "wb") as f:
        f.write(b"written from alice's kernel")
    with fsspec.open("proxy://Team/from-kernel.txt", "rb") as f:
        assert f.read() == b"written from alice's kernel"
    # A server token without the service's scope is refused.
    without = [scope for scope in SERVER_TOKEN_SCOPES if "services" not in scope]
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.token_for("alice", without))
    with pytest.raises(PermissionError):
        ProxyFileSystem(skip_instance_cache=True).sources()


def test_kernels_reach_the_service_at_its_own_url_under_the_same_rules(hub, monkeypatch):
    """The documented c.Spawner.environment gives kernels the service's own URL, not
    the hub's proxy; the service still asks the hub about each token, and the access
    rules are those of any other path."""
    kernels = hub.configuration().Spawner.environment
    assert kernels["FSSPEC_PROXY_ENDPOINT_URL"] == hub.direct_url
    assert not hub.direct_url.startswith(hub.url)  # not through configurable-http-proxy
    monkeypatch.setenv("FSSPEC_PROXY_ENDPOINT_URL", hub.direct_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.token_for("alice", SERVER_TOKEN_SCOPES))
    monkeypatch.delenv("FSSPEC_PROXY_TOKEN", raising=False)
    alice = ProxyFileSystem(skip_instance_cache=True)  # what a kernel gets
    alice.pipe_file("Team/direct.txt", b"no hop")
    assert alice.cat_file("Team/direct.txt") == b"no hop"
    direct = {
        user: ProxyFileSystem(
            endpoint_url=hub.direct_url,
            token=hub.token_for(user, SERVER_TOKEN_SCOPES),
            skip_instance_cache=True,
        )
        for user in ("bob", "carol")
    }
    assert {s["name"] for s in direct["bob"].sources()} == {"Home", "Everyone"}
    with pytest.raises(FileNotFoundError):
        direct["bob"].cat_file("Team/direct.txt")  # hidden, as through the hub
    assert direct["carol"].cat_file("Team/direct.txt") == b"no hop"
    with pytest.raises(PermissionError):
        direct["carol"].pipe_file("Team/direct.txt", b"carol may only read")
    without = [scope for scope in SERVER_TOKEN_SCOPES if "services" not in scope]
    for token in (hub.token_for("alice", without), "not-a-hub-token"):
        with pytest.raises(PermissionError):
            ProxyFileSystem(endpoint_url=hub.direct_url, token=token, skip_instance_cache=True).ls(
                "Team"
            )
    assert alice.cat_file("Team/direct.txt") == b"no hop"


async def login(browser, hub: Hub, user: str):
    page = await browser.context.new_page()
    await page.goto(f"{hub.url}/hub/login")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("input[type=submit], button[type=submit]")
    await page.wait_for_load_state()
    return page


READ_FROM_PAGE = """async ([url, withXsrf]) => {
    const headers = {};
    if (withXsrf) {
        const answer = await fetch(url.replace(/api\\/.*/, "api/xsrf"));
        headers["X-XSRFToken"] = (await answer.json()).xsrf_token;
    }
    const read = await fetch(url, {headers});
    return read.ok ? read.json() : read.status;
}"""
WRITE_FROM_PAGE = """async ([base, withXsrf]) => {
    const headers = {};
    if (withXsrf) {
        const answer = await fetch(base + "api/xsrf");
        headers["X-XSRFToken"] = (await answer.json()).xsrf_token;
    }
    const put = await fetch(base + "files/Home/from-browser.txt",
                            {method: "PUT", body: "hello from the page", headers});
    return put.status;
}"""


@pytest.mark.browser
async def test_pages_on_the_hub_origin_use_the_hubs_login(hub):
    """Chromium logs in through the hub's form; the service's OAuth makes the cookie."""
    async with chromium() as browser:
        page = await login(browser, hub, "bob")
        await page.goto(f"{hub.proxy_url}app/")  # the hub's OAuth, then the app page
        assert page.url == f"{hub.proxy_url}app/"
        await page.wait_for_function(  # the app found the proxy under the service's prefix
            "document.getElementById('status').textContent === 'Ready'", timeout=90_000
        )
        assert await page.locator("#sources button").all_inner_texts() == ["Home", "Everyone"]
        sources = await page.evaluate(READ_FROM_PAGE, [f"{hub.proxy_url}api/sources", True])
        assert [s["name"] for s in sources] == ["Home", "Everyone"]  # Team is not bob's
        # as the hub's own API: a cookie read needs the XSRF token too
        assert await page.evaluate(READ_FROM_PAGE, [f"{hub.proxy_url}api/sources", False]) == 403
        assert await page.evaluate(WRITE_FROM_PAGE, [hub.proxy_url, False]) == 403
        assert await page.evaluate(WRITE_FROM_PAGE, [hub.proxy_url, True]) == 201
        # the app's Parquet reader comes from the service's static files too
        table = io.BytesIO()
        pq.write_table(pa.table({"who": ["bob"]}), table)
        client(hub, "bob").pipe_file("Home/who.parquet", table.getvalue())
        await page.click("#sources button[data-path='Home']")
        await page.click("button[data-preview='Home/who.parquet']")
        await page.wait_for_selector("#preview-table tbody tr")
        assert await page.inner_text("#preview-table tbody") == "bob"
        assert browser.outside(hub.url) == []
    assert client(hub, "bob").cat_file("Home/from-browser.txt") == b"hello from the page"
    assert not client(hub, "alice").exists("Home/from-browser.txt")


def test_the_service_runs_no_code(hub):
    """Like the other standalone modes: no kernels, terminals or contents, for anyone."""
    token = {"Authorization": f"token {hub.token_for('alice')}"}
    for route in ("api/kernels", "api/contents", "api/terminals"):
        request = urllib.request.Request(f"{hub.url}/services/fsspec-proxy/{route}", headers=token)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code in (403, 404), route


def test_the_login_page_is_framed_by_the_hubs_origin_only_and_ignores_next(hub):
    """The page the Storage panel opens in a hidden frame: no other site may frame it
    (clickjacking), and it sends nobody elsewhere, whatever ``next`` says."""
    headers = {"Authorization": f"token {hub.token_for('alice')}", "Origin": "http://evil.example"}
    request = urllib.request.Request(f"{hub.proxy_url}login?next=//evil.example/", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        headers, page = answer.headers, answer.read()
        assert (answer.status, answer.url) == (200, request.full_url), page  # no redirect
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"], headers
    assert headers["Cache-Control"] == "no-store", headers
    assert headers["Access-Control-Allow-Origin"] is None, headers  # nor read by one
    assert b"evil" not in page


async def service_cookies(hub: Hub, user: str) -> str:
    """The Cookie header a browser sends the service once ``user`` logged in."""
    async with chromium() as browser:
        page = await login(browser, hub, user)
        await page.goto(f"{hub.proxy_url}app/")  # the service's OAuth sets its cookie
        cookies = await browser.context.cookies(hub.proxy_url)
    return "; ".join(f"{c['name']}={c['value']}" for c in cookies)


def fetched_with(hub: Hub, url: str, cookie: str, site: str, mode: str = "no-cors") -> int:
    """A browser's request for a resource of a page: its cookie and its fetch metadata."""
    headers = {"Cookie": cookie, "Sec-Fetch-Mode": mode, "Sec-Fetch-Site": site}
    return answered(urllib.request.Request(url, headers=headers))[0]


@pytest.mark.browser
async def test_a_cookie_gets_no_further_than_the_hub_lets_it(hub):
    """A page of another site that includes alice's file (<script src>, <img>) with her
    cookie gets what the hub's own API gives such a request: nothing."""
    client(hub, "alice").pipe_file("Home/data.js", b"var secret = 'alice';")
    cookie = await service_cookies(hub, "alice")
    data = f"{hub.proxy_url}files/Home/data.js"
    assert fetched_with(hub, data, cookie, "cross-site") == 403
    assert fetched_with(hub, f"{hub.url}/hub/api/user", cookie, "cross-site") == 403
    assert fetched_with(hub, data, cookie, "same-origin") == 200  # an <img> of the hub's own
    assert fetched_with(hub, data, cookie, "none", mode="navigate") == 200  # opened by hand


def test_a_service_named_like_a_user_is_not_that_user(hub):
    client(hub, "carol").pipe_file("Home/diary.txt", b"carol's diary")
    service = ProxyFileSystem(
        endpoint_url=hub.proxy_url, token=SERVICE_TOKEN, skip_instance_cache=True
    )
    assert [s["name"] for s in service.sources()] == ["ForServices"]
    with pytest.raises(FileNotFoundError):
        service.cat_file("Home/diary.txt")
    with pytest.raises(FileNotFoundError):
        service.pipe_file("Home/diary.txt", b"overwritten")
    with pytest.raises(FileNotFoundError):
        service.cat_file("Vault/anything")  # user:carol names the user, not the service
    assert client(hub, "carol").cat_file("Home/diary.txt") == b"carol's diary"
    assert "ForServices" not in {s["name"] for s in client(hub, "carol").sources()}


def test_a_signed_url_reads_only_while_the_hub_keeps_its_signer(hub):
    hub.api("POST", "users/erin")
    hub.api("POST", "groups/analysts/users", {"users": ["erin"]})
    erin = client(hub, "erin")
    erin.pipe_file("Team/by-erin.txt", b"for the team")
    erin.pipe_file("Home/erin.txt", b"erin's own")
    team, home = erin.sign("Team/by-erin.txt"), erin.sign("Home/erin.txt")
    assert answered(team) == (200, b"for the team")
    assert answered(home) == (200, b"erin's own")

    hub.api("DELETE", "groups/analysts/users", {"users": ["erin"]})
    wait_until(lambda: answered(team)[0] == 403, "the group's file refused", timeout=20)
    assert answered(home) == (200, b"erin's own")  # still a user of the hub
    hub.api("DELETE", "users/erin")
    wait_until(lambda: answered(home)[0] == 403, "a deleted user's URL refused", timeout=20)
    status, body = answered(home)
    assert json.loads(body)["message"] == "The signer of this URL is no longer on this hub"
    client(hub, "alice").rm("Team/by-erin.txt")

    service = ProxyFileSystem(
        endpoint_url=hub.proxy_url, token=SERVICE_TOKEN, skip_instance_cache=True
    )  # a service's URL: the hub is asked about the service, not a user named so
    assert answered(service.sign("ForServices/note.txt")) == (200, b"for services")


def test_revoked_access_ends_within_seconds(hub):
    hub.api("POST", "users/dave")
    hub.api("POST", "groups/analysts/users", {"users": ["dave"]})
    dave = client(hub, "dave")
    dave.pipe_file("Team/by-dave.txt", b"before")
    hub.api("DELETE", "groups/analysts/users", {"users": ["dave"]})
    for token in hub.api("GET", "users/dave/tokens")["api_tokens"]:
        hub.api("DELETE", f"users/dave/tokens/{token['id']}")
    hub.api("DELETE", "users/dave")
    started = time.monotonic()
    assert raw(hub, "dave", "PUT", "files/Team/after-delete.txt", b"x")[0] == 403  # at once
    assert not client(hub, "alice").exists("Team/after-delete.txt")

    def refused() -> bool:
        return raw(hub, "dave", "GET", "files/Team/by-dave.txt")[0] == 403

    wait_until(refused, "the proxy stops reading for dave's token", timeout=20)
    print(f"reads were refused {time.monotonic() - started:.1f} s after the revocation")


def test_only_the_configured_administrators_change_the_sources(hub):
    bob_posts = raw(hub, "bob", "PUT", "api/config", b"sources: []")
    assert bob_posts[0] == 403 and b"config_admins" in bob_posts[1]
    assert raw(hub, "bob", "POST", "api/reload", b"")[0] == 403
    over_the_vault = f"sources: [{{name: Mine, path: '{POSTED_ROOT}/vault'}}]".encode()
    refused = raw(hub, "alice", "PUT", "api/config", over_the_vault)  # alice may not read it
    assert refused[0] == 403 and b"access rules" in refused[1]
    around_the_vault = f"sources: [{{name: All, path: '{POSTED_ROOT}'}}]".encode()
    assert raw(hub, "alice", "PUT", "api/config", around_the_vault)[0] == 403
    assert {s["name"] for s in client(hub, "bob").sources()} == {"Home", "Everyone"}  # as before


def test_refused_uploads_never_break_anyone_elses_request(hub):
    """bob's refused upload leaves its body unread; the connection it came on is
    closed and says so, and configurable-http-proxy does not send alice's next
    request on it."""
    bob = {"Authorization": f"token {hub.token_for('bob')}"}
    alice = {"Authorization": f"token {hub.token_for('alice')}"}
    host, port = urllib.parse.urlsplit(hub.url).netloc.split(":")
    base = urllib.parse.urlsplit(hub.proxy_url).path
    statuses = []
    for _ in range(200):
        refused = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            refused.request("PUT", f"{base}files/Team/x.bin", body=b"x" * MiB, headers=bob)
            statuses.append(("bob", refused.getresponse().status))
        except (BrokenPipeError, ConnectionResetError):
            statuses.append(("bob", "reset"))
        finally:
            refused.close()
        reader = http.client.HTTPConnection(host, int(port), timeout=30)
        reader.request("GET", f"{base}api/sources", headers=alice)
        statuses.append(("alice", reader.getresponse().status))
        reader.close()
    assert [code for who, code in statuses if who == "alice"] == [200] * 200
    assert {code for who, code in statuses if who == "bob"} <= {404, "reset"}


def test_metrics_are_for_the_hubs_administrators(hub):
    def metrics(user: str) -> tuple[int, bytes]:
        url = f"{hub.url}/services/fsspec-proxy/metrics"
        headers = {"Authorization": f"token {hub.token_for(user)}"}
        return answered(urllib.request.Request(url, headers=headers))

    assert metrics("alice")[0] == 403
    status, body = metrics("hubadmin")
    assert status == 200 and b"http_request_duration_seconds" in body
