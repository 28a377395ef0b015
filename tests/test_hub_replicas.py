"""The hub service on two replicas behind nginx, registered with a real JupyterHub as
one externally managed service: both serve, a login or a signed URL made by one is
good on the other, posted configs are refused, and a replica killed under load
loses no request that the client may send again, and leaves no file half-written."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import psutil
import pytest
import yaml
from fsspec_proxy_client import ProxyFileSystem

from jupyter_fsspec_proxy.confined import STAGED_PREFIX
from jupyter_fsspec_proxy.testing.balancer import requests_by_line, served_by
from jupyter_fsspec_proxy.testing.hub import PASSWORD
from jupyter_fsspec_proxy.testing.processes import free_port, wait_until
from jupyter_fsspec_proxy.testing.replicas import (
    MANIFESTS,
    Deployment,
    Load,
    Replica,
    deployment,
    documented_start,
)
from jupyter_fsspec_proxy.testing.standalone import intact

pytestmark = pytest.mark.hub

USERS = {"alice": ["analysts"], "bob": []}
BIG = 4 * 2**20
PREFIX = "/services/fsspec-proxy/"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("replicas")
    shared, team = workdir / "shared", workdir / "team"
    shared.mkdir()
    team.mkdir()
    (shared / "big.bin").write_bytes(random.Random(3).randbytes(BIG))
    sources = [
        {"name": "Shared", "path": str(shared), "access": {"read": ["*"], "write": ["*"]}},
        {"name": "Team", "path": str(team), "access": {"read": ["group:analysts"],
                                                       "write": ["group:analysts"]}},
    ]  # fmt: skip
    options = ["--ProxyManager.allow_reload=True", "--ProxyManager.config_admins=user:alice"]
    with deployment(workdir, sources, USERS, options) as running:
        running.shared = shared
        yield running


def client(url: str, token: str) -> ProxyFileSystem:
    return ProxyFileSystem(endpoint_url=url, token=token, skip_instance_cache=True)


def answer(request: urllib.request.Request, opener=urllib.request.urlopen):
    try:
        with opener(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_both_replicas_serve_one_service_under_the_hubs_rules(replicas):
    hub = replicas.hub
    alice = client(hub.proxy_url, hub.token_for("alice"))
    alice.pipe_file("Team/plan.txt", b"the team's plan")
    for url in (hub.proxy_url, hub.direct_url):  # through the hub's proxy, and as kernels do
        for _ in range(4):
            assert (
                client(url, hub.token_for("alice")).cat_file("Team/plan.txt") == b"the team's plan"
            )
    bob = client(hub.direct_url, hub.token_for("bob"))
    assert [s["name"] for s in bob.sources()] == ["Shared"]
    with pytest.raises(FileNotFoundError):
        bob.cat_file("Team/plan.txt")
    for each in replicas.replicas:  # the same rules at each replica's own address
        with pytest.raises(PermissionError):
            client(each.url, "not-a-hub-token").sources()
        assert client(each.url, hub.token_for("alice")).cat_file("Team/plan.txt")
    served = served_by(replicas.access_log)
    assert set(served) == {f"127.0.0.1:{each.port}" for each in replicas.replicas}


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_login_started_on_one_replica_finishes_on_the_other(replicas):
    """The hub's OAuth, step by step: the login starts at one replica, the hub sends
    the browser back to the other, and the cookie it sets works on both."""
    hub = replicas.hub
    first, second = replicas.replicas
    jar = http.cookiejar.CookieJar()  # cookies go by host and path, not port: one browser
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirects)
    status, _, page = answer(urllib.request.Request(f"{hub.url}/hub/login"), browser.open)
    xsrf = re.search(rb'name="_xsrf" value="([^"]+)"', page)[1].decode()
    form = urllib.parse.urlencode({"username": "bob", "password": PASSWORD, "_xsrf": xsrf})
    status, _, _ = answer(
        urllib.request.Request(f"{hub.url}/hub/login", form.encode()), browser.open
    )
    assert status == 302  # logged in at the hub
    app = f"{first.url}app/"
    status, headers, _ = answer(urllib.request.Request(app), browser.open)
    assert status == 302 and "/hub/api/oauth2/authorize" in headers["Location"]
    authorize = urllib.parse.urljoin(hub.url, headers["Location"])
    status, headers, _ = answer(urllib.request.Request(authorize), browser.open)
    assert status == 302
    callback = urllib.parse.urlsplit(headers["Location"])
    assert callback.path == f"{PREFIX}oauth_callback"
    finished = f"http://127.0.0.1:{second.port}{callback.path}?{callback.query}"
    status, headers, body = answer(urllib.request.Request(finished), browser.open)
    assert status == 302, body  # the other replica completed the login
    assert headers["Location"] == f"{PREFIX}fsspec-proxy/app/"  # where it began
    same_site = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    status, _, body = answer(
        urllib.request.Request(f"{first.url}api/xsrf", headers=same_site), browser.open
    )
    assert status == 200
    page = {**same_site, "X-XSRFToken": json.loads(body)["xsrf_token"]}  # one replica's
    for each, name in ((first, "a"), (second, "b")):  # the cookie and the XSRF token, on both
        status, _, body = answer(
            urllib.request.Request(f"{each.url}api/sources", headers=page), browser.open
        )
        assert (status, [s["name"] for s in json.loads(body)]) == (200, ["Shared"])
        put = urllib.request.Request(
            f"{each.url}files/Shared/from-{name}.txt", b"by cookie", page, method="PUT"
        )
        assert answer(put, browser.open)[0] == 201
    assert (replicas.shared / "from-b.txt").read_bytes() == b"by cookie"


def test_a_url_signed_by_one_replica_reads_on_the_other(replicas):
    hub = replicas.hub
    first, second = replicas.replicas
    client(first.url, hub.token_for("alice")).pipe_file("Team/signed.txt", b"for a link")
    url = client(first.url, hub.token_for("alice")).sign("Team/signed.txt")
    path = urllib.parse.urlsplit(url).path
    status, _, body = answer(urllib.request.Request(f"http://127.0.0.1:{second.port}{path}"))
    assert (status, body) == (200, b"for a link")


def test_a_posted_config_is_refused_and_each_replica_reloads_its_file(replicas):
    hub = replicas.hub
    token = {"Authorization": f"token {hub.token_for('alice')}"}  # one of config_admins
    for each in replicas.replicas:
        put = urllib.request.Request(f"{each.url}api/config", b"sources: []", token, method="PUT")
        status, _, body = answer(put)
        assert status == 409 and b"one of several replicas" in body
        reload = urllib.request.Request(f"{each.url}api/reload", b"", token, method="POST")
        status, _, body = answer(reload)
        assert status == 200 and [s["name"] for s in json.loads(body)] == ["Shared", "Team"]
    bob = {"Authorization": f"token {hub.token_for('bob')}"}
    put = urllib.request.Request(f"{hub.proxy_url}api/config", b"sources: []", bob, method="PUT")
    assert answer(put)[0] == 403  # not an administrator: refused before anything else


def test_a_replica_needs_what_all_replicas_share(tmp_path):
    exports, command = documented_start()
    without_key = re.sub(r"--ProxyManager.signing_key_file=\S+", "", command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    (tmp_path / "hub_token").write_text("token")
    (tmp_path / "cookie_secret").write_text("secret")
    (tmp_path / "config.yaml").write_text("sources: [{name: M, path: 'memory://m'}]")
    script = "\n".join([*exports, f"port={free_port()}", without_key])
    done = subprocess.run(
        ["bash", "-c", script.replace("/etc/fsspec-proxy/", f"{tmp_path}/")],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    assert "needs what all replicas share: c.ProxyManager.signing_key_file" in done.stderr
    no_name = script.replace("export JUPYTERHUB_SERVICE_NAME=fsspec-proxy", "")
    done = subprocess.run(
        ["bash", "-c", no_name.replace("/etc/fsspec-proxy/", f"{tmp_path}/")],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0 and "JUPYTERHUB_SERVICE_NAME" in done.stderr


def test_the_kubernetes_probe_answers_without_a_login(replicas):
    """docs/deploy/kubernetes/fsspec-proxy.yaml probes each replica without a token."""
    [deployment] = [
        d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d["kind"] == "Deployment"
    ]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    path = container["readinessProbe"]["httpGet"]["path"]
    for each in replicas.replicas:
        status, _, body = answer(urllib.request.Request(f"http://127.0.0.1:{each.port}{path}"))
        assert status == 200 and b"fsspec-proxy-client" in body


def replica_of(deployment: Deployment, name: str) -> int:
    """The port of the replica that nginx sent the requests for ``name`` to (its log
    line is written once the answer has gone)."""

    def lines() -> list[str]:
        return [line for line in deployment.access_log.read_text().splitlines() if name in line]

    wait_until(lines, f"nginx logs {name}")
    return int(re.search(r"upstream=127\.0\.0\.1:(\d+) ", lines()[0])[1])


def session_on_each_replica(deployment: Deployment, token: dict) -> dict[int, str]:
    """Upload sessions opened through the hub, one held by each replica (nginx picks
    by path): replica port -> the session's URL, with its first piece sent."""
    held: dict[int, str] = {}
    for number in range(32):
        path = f"api/uploads/Shared/session-{number}.bin"
        opened = urllib.request.Request(deployment.hub.proxy_url + path, b"", token, method="POST")
        status, _, body = answer(opened)
        assert status == 201, body
        url = f"{deployment.hub.proxy_url}{path}?id={json.loads(body)['id']}"
        piece = urllib.request.Request(f"{url}&offset=0", b"first ", token, method="PUT")
        assert answer(piece)[0] == 200
        held.setdefault(replica_of(deployment, f"session-{number}.bin"), url)
        if len(held) == len(deployment.replicas):
            return held
    raise AssertionError(f"32 paths all went to {list(held)}")


def staged_by(replica: Replica) -> set[str]:
    """The staged uploads a replica has open (sessions, files being received)."""
    files = psutil.Process(replica.process.pid).open_files()
    return {f.path for f in files if STAGED_PREFIX in f.path}


@pytest.mark.xfail(
    strict=False,
    reason="in about one run of four a 2 MiB PUT through the hub's proxy is lost: nginx "
    "answers it 502 as the replica dies, configurable-http-proxy reports 'socket hang up' "
    "and answers the hub's 503 page, and the client raises it (docs/scale-out.md)",
)
def test_a_replica_killed_under_load_loses_no_request_the_client_may_resend(replicas):
    """Last in this module: it leaves one replica. The victim is stopped first, so
    that requests of every kind are in flight on it when it dies."""
    hub = replicas.hub
    token = {"Authorization": f"token {hub.token_for('alice')}"}
    big = (replicas.shared / "big.bin").read_bytes()
    sessions = session_on_each_replica(replicas, token)
    before = {each.port: staged_by(each) for each in replicas.replicas}
    # A file sent as a stream (the client cannot send it again) to the victim.
    host, port = urllib.parse.urlsplit(hub.url).netloc.split(":")
    streamed = http.client.HTTPConnection(host, int(port), timeout=30)
    streamed.putrequest(
        "PUT", urllib.parse.urlsplit(hub.proxy_url).path + "files/Shared/streamed.bin"
    )
    for name, value in {**token, "Content-Length": str(8 * 2**20)}.items():
        streamed.putheader(name, value)
    streamed.endheaders()
    streamed.send(b"x" * 2**20)

    def receiving() -> list[Replica]:
        return [each for each in replicas.replicas if staged_by(each) - before[each.port]]

    wait_until(receiving, "a replica stages the stream")
    [victim] = receiving()

    stop = threading.Event()
    urls = [hub.proxy_url, hub.proxy_url, hub.proxy_url, hub.direct_url]  # + kernels' way
    load = [Load(n, url, hub.token_for("alice"), big, stop, "Shared") for n, url in enumerate(urls)]
    for each in load:
        each.start()
    time.sleep(0.5)
    victim.process.send_signal(signal.SIGSTOP)  # requests pile up on it
    time.sleep(1.0)
    victim.process.kill()  # SIGKILL, with requests in flight
    killed = time.monotonic()
    try:
        streamed.send(b"x" * (7 * 2**20))
        stream_status = streamed.getresponse().status
    except OSError as error:
        stream_status = type(error).__name__
    time.sleep(1.5)
    stop.set()
    for each in load:
        each.join(timeout=60)

    assert [lost for each in load for lost in each.lost] == []
    after_kill = sum(when > killed for each in load for when in each.done)
    assert after_kill > 10  # the survivor went on serving
    fs = client(hub.proxy_url, hub.token_for("alice"))
    for each in load:
        for path in each.written:
            assert intact(fs.cat_file(path)), path  # no file half-written
    assert stream_status != 201
    assert not (replicas.shared / "streamed.bin").exists()
    assert not any(STAGED_PREFIX in name for name in fs.ls("Shared", detail=False))
    # The victim's upload session is gone with it; the survivor's completes.
    for port, url in sessions.items():
        last = urllib.request.Request(f"{url}&offset=6&last=true", b"last", token, method="PUT")
        status, _, body = answer(last)
        name = urllib.parse.urlsplit(url).path.rpartition("/")[2]
        if port == victim.port:
            assert status == 404 and b"No such upload" in body
            assert not (replicas.shared / name).exists()
        else:
            assert status == 201, body
            assert (replicas.shared / name).read_bytes() == b"first last"
    tried = requests_by_line(replicas.access_log)
    victim_address = f"127.0.0.1:{victim.port}"
    moved = sum(len(each) > 1 and each[0] == victim_address for each in tried)
    log = replicas.access_log.read_text().splitlines()
    resent = sum(
        " 502 " in line and victim_address in line and "streamed.bin" not in line for line in log
    )
    assert moved + resent >= 1  # requests were in flight on the victim when it died
    total = sum(len(each.done) for each in load)
    print(
        f"{total} requests, {after_kill} after the kill, {moved} moved by nginx, "
        f"{resent} answered 502 and sent again by the client, 0 lost; stream: {stream_status}"
    )
