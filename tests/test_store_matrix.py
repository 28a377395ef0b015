"""The same guarantees on every store, through the client and the raw HTTP API of a
standalone proxy (run mode, a token) serving each store's real server on 127.0.0.1.

Every store gets one proxy for this module, with the sources ``W`` (writable), ``RO``
(readonly), ``Peek`` (anyone reads, nobody writes), ``Hidden`` (someone else's),
``Home`` (``{username}``) and ``Bad`` (a wrong credential), all on one area of the
store. HTTP is read-only: its files are written into the folder nginx serves.
"""

from __future__ import annotations

import concurrent.futures
import getpass
import http.client
import json
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from jupyter_fsspec_proxy.testing.stores import AUTH, STORES, Served, Store, make_store, serving

pytestmark = pytest.mark.stores

ME = getpass.getuser()


def wrong(secret: str) -> str:
    """A credential of the same shape that the store refuses."""
    return ("X" if secret[0] != "X" else "Y") + secret[1:]


def with_wrong_secrets(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {key: with_wrong_secrets(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [with_wrong_secrets(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, wrong(secret))
    return value


@pytest.fixture(scope="module", params=STORES)
def served(request, tmp_path_factory) -> Iterator[Served]:
    store = make_store(request.param, request)
    home = tmp_path_factory.mktemp(f"matrix-{store.name.lower()}")
    readonly = {} if store.writable else {"readonly": True}
    bad = store.source("Bad", "w")
    bad["kwargs"] = with_wrong_secrets(bad["kwargs"], store.secrets)
    sources = [
        store.source("W", "w", **readonly),
        store.source("RO", "w", readonly=True),
        store.source("Peek", "w", access={"read": ["*"]}),
        store.source("Hidden", "w", access={"read": ["user:someone-else"]}),
        store.source("Home", "home/{username}", **readonly),
        bad,
    ]
    if store.name in PRESIGNED:
        sources.append(store.source("Signed", "w", presigned_reads={"min_size": 0}))
    if store.own is not None:  # the area's folders, where a store needs them made
        fs, root = store.behind_the_back()
        fs.makedirs(f"{root}/w", exist_ok=True)
        if not store.writable:
            fs.makedirs(f"{root}/home/{ME}", exist_ok=True)
    with serving(store, home, sources) as served:
        yield served
    log = served.proxy.log.read_text()
    assert_no_secret_in(store, log, "the proxy's log")
    assert "Unclosed" not in log, log[-3000:]  # sessions closed at each reload and the stop


def assert_no_secret_in(store: Store, text: str, where: str) -> None:
    for secret in store.secrets:
        for form in (secret, wrong(secret), quote(secret, safe="")):
            assert form not in text, f"a credential of {store.name} is in {where}"


#: The cells that fail today, and why (strict: a fix makes them fail until removed here).
KNOWN: dict[tuple[str, str], str] = {
    ("paths_are_literal_never_globs", "WebDAV"): (
        "webdav4 puts a name into its URL unquoted: httpx refuses 'b?.txt' (Invalid URL)"
    ),
}


@pytest.fixture(autouse=True)
def known_failures(request, served: Served) -> None:
    test = request.node.originalname.removeprefix("test_")
    reason = KNOWN.get((test, served.store.name))
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture
def folder(served: Served) -> str:
    """A fresh folder name in ``W`` for one test."""
    return f"t{uuid.uuid4().hex[:10]}"


# -- reads and writes ----------------------------------------------------------------


def test_write_and_read_back(served, folder):
    served.writes()
    data = bytes(range(256)) * 40
    status, headers, body = served.http("PUT", f"files/W/{folder}/raw.bin", data)
    assert status == 201, body
    assert json.loads(body)["size"] == len(data)
    status, got, body = served.http("GET", f"files/W/{folder}/raw.bin")
    assert (status, body) == (200, data)
    assert got["ETag"] == headers["ETag"]

    served.fs.pipe_file(f"W/{folder}/client.txt", b"through the client")
    assert served.fs.cat_file(f"W/{folder}/client.txt") == b"through the client"
    assert served.stored(folder) == ["client.txt", "raw.bin"]


def test_exact_ranges(served, folder):
    data = bytes(range(256)) * 40  # 10240 bytes
    served.create(f"{folder}/r.bin", data)
    path = f"files/W/{folder}/r.bin"
    for header, status, expected in [
        ("bytes=0-0", 206, data[:1]),
        ("bytes=10-19", 206, data[10:20]),
        ("bytes=10230-", 206, data[10230:]),
        ("bytes=-5", 206, data[-5:]),
        ("bytes=10200-99999", 206, data[10200:]),
    ]:
        got, headers, body = served.http("GET", path, headers={"Range": header})
        assert (got, body) == (status, expected), header
        assert headers["Content-Length"] == str(len(expected))
    got, headers, _ = served.http("GET", path, headers={"Range": "bytes=10240-"})
    assert (got, headers["Content-Range"]) == (416, "bytes */10240")
    assert served.fs.cat_file(f"W/{folder}/r.bin", start=100, end=110) == data[100:110]
    starts = [0, 5000, 10239, 3]
    ends = [4, 5100, 10240, 3]
    paths = [f"W/{folder}/r.bin"] * 4
    expected = [data[a:b] for a, b in zip(starts, ends, strict=True)]
    assert served.fs.cat_ranges(paths, starts, ends) == expected
    with served.fs.open(f"W/{folder}/r.bin", "rb", block_size=1000) as handle:
        handle.seek(9000)
        assert handle.read(500) == data[9000:9500]


@pytest.mark.parametrize("served", ["HTTP"], indirect=True)
def test_a_read_over_http_is_one_request_whose_answer_describes_the_file(
    served, folder, nginx_server
):
    """A GET from a position is one ranged GET to the server, whose 206 gives the size
    and validators; a suffix range needs the size first (HEAD, then GET)."""
    data = bytes(range(256)) * 40
    served.create(f"{folder}/one.bin", data)
    path = f"files/W/{folder}/one.bin"
    etag = served.json("GET", f"api/info/W/{folder}/one.bin")["etag"]  # from a HEAD
    asked = len(nginx_server.requests())
    got, headers, body = served.http("GET", path, headers={"Range": "bytes=100-199"})
    assert (got, body, headers["Content-Range"]) == (206, data[100:200], "bytes 100-199/10240")
    assert headers["ETag"] == etag
    got, headers, body = served.http("GET", path)
    assert (got, body, headers["Content-Length"], headers["ETag"]) == (200, data, "10240", etag)
    uri = f"{urllib.parse.urlsplit(served.store.url).path}w/{folder}/one.bin"
    assert nginx_server.requests()[asked:] == [
        f"GET {uri} bytes=100-199 206",
        f"GET {uri} bytes=0- 206",
    ]
    got, _, body = served.http("GET", path, headers={"Range": "bytes=-40"})
    assert (got, body) == (206, data[-40:])
    assert [line.split()[0] for line in nginx_server.requests()[asked + 2 :]] == ["HEAD", "GET"]
    got, headers, _ = served.http("GET", path, headers={"Range": "bytes=20000-"})
    assert (got, headers["Content-Range"]) == (416, "bytes */10240")  # told by a HEAD
    got, _, body = served.http("GET", f"files/W/{folder}")
    assert (got, json.loads(body)["error"]) == (400, "IsADirectoryError")
    assert served.http("GET", f"files/W/{folder}/missing.bin")[0] == 404


def test_listing_and_info_of_files_and_folders(served, folder):
    served.create(f"{folder}/a.txt", b"a" * 11)
    served.create(f"{folder}/sub/b.txt", b"b" * 22)
    listing = sorted(served.json("GET", f"api/ls/W/{folder}"), key=lambda e: e["name"])
    assert [(e["name"], e["type"]) for e in listing] == [
        (f"W/{folder}/a.txt", "file"),
        (f"W/{folder}/sub", "directory"),
    ]
    assert listing[0]["size"] == 11
    info = served.json("GET", f"api/info/W/{folder}/sub")
    assert (info["name"], info["type"]) == (f"W/{folder}/sub", "directory")
    info = served.json("GET", f"api/info/W/{folder}/sub/b.txt")
    assert (info["type"], info["size"]) == ("file", 22)
    assert served.fs.ls(f"W/{folder}/sub", detail=False) == [f"W/{folder}/sub/b.txt"]
    assert served.fs.isdir(f"W/{folder}/sub") and served.fs.isfile(f"W/{folder}/a.txt")
    assert served.fs.info(f"W/{folder}/a.txt")["size"] == 11
    assert served.fs.find(f"W/{folder}") == [f"W/{folder}/a.txt", f"W/{folder}/sub/b.txt"]
    missing, _, body = served.http("GET", f"api/info/W/{folder}/nothing")
    assert missing == 404, body


def test_listing_sizes_are_the_files_sizes(served, folder):
    served.create(f"{folder}/sized.bin", b"s" * 1234)
    assert [e["size"] for e in served.json("GET", f"api/ls/W/{folder}")] == [1234]


def test_empty_folders_as_the_store_keeps_them(served, folder):
    served.writes()
    assert served.http("POST", f"api/mkdir/W/{folder}/empty")[0] == 201
    kept = served.stored(folder) == ["empty"]
    assert kept == served.store.empty_folders  # the store's own answer
    listed = served.json("GET", f"api/ls/W/{folder}") if kept else []
    assert [(e["name"], e["type"]) for e in listed] == (
        [(f"W/{folder}/empty", "directory")] if kept else []
    )
    if kept:
        assert served.json("GET", f"api/ls/W/{folder}/empty") == []
        assert served.json("GET", f"api/info/W/{folder}/empty")["type"] == "directory"
    # a folder implied by a file below it is a folder like any other, on every store
    served.create(f"{folder}/implied/x.txt", b"x")
    assert served.json("GET", f"api/info/W/{folder}/implied")["type"] == "directory"


def test_remove_files_and_folders(served, folder):
    served.writes()
    for name in ("gone.txt", "tree/one.txt", "tree/deeper/two.txt", "kept.txt"):
        served.create(f"{folder}/{name}", b"x")
    assert served.http("DELETE", f"files/W/{folder}/gone.txt")[0] == 204
    assert served.http("GET", f"files/W/{folder}/gone.txt")[0] == 404
    status, _, body = served.http("DELETE", f"files/W/{folder}/tree")
    assert status == 400, body  # a folder needs recursive=true
    assert served.http("DELETE", f"files/W/{folder}/tree?recursive=true")[0] == 204
    served.fs.rm_file(f"W/{folder}/kept.txt")
    assert served.fs.find(f"W/{folder}") == []  # an object store's folder is gone with its files
    assert served.stored(f"{folder}/tree") == []
    assert served.http("DELETE", f"files/W/{folder}/never.txt")[0] == 404


def test_copy_and_move_within_a_source(served, folder):
    served.writes()
    served.create(f"{folder}/f.txt", b"file")
    served.create(f"{folder}/d/one.txt", b"one")
    served.create(f"{folder}/d/sub/two.txt", b"two")
    copied = served.json("POST", f"api/copy/W/{folder}/f.txt", {"destination": f"{folder}/g.txt"})
    assert (copied["name"], copied["size"]) == (f"W/{folder}/g.txt", 4)
    body = {"destination": f"{folder}/e", "recursive": True}
    assert served.json("POST", f"api/copy/W/{folder}/d", body)["type"] == "directory"
    assert served.fs.cat_file(f"W/{folder}/e/sub/two.txt") == b"two"
    moved = served.json("POST", f"api/move/W/{folder}/g.txt", {"destination": f"{folder}/h.txt"})
    assert moved["name"] == f"W/{folder}/h.txt"
    body = {"destination": f"{folder}/m", "recursive": True}
    served.json("POST", f"api/move/W/{folder}/e", body)
    served.fs.mv(f"W/{folder}/h.txt", f"W/{folder}/i.txt")
    served.fs.cp_file(f"W/{folder}/i.txt", f"W/{folder}/j.txt")
    assert served.fs.find(f"W/{folder}") == [
        f"W/{folder}/{name}"
        for name in (
            "d/one.txt",
            "d/sub/two.txt",
            "f.txt",
            "i.txt",
            "j.txt",
            "m/one.txt",
            "m/sub/two.txt",
        )  # fmt: skip
    ]
    assert served.fs.cat_file(f"W/{folder}/j.txt") == b"file"


def test_paths_are_literal_never_globs(served, folder):
    served.writes()
    names = {"report[1].txt": b"bracketed", "report1.txt": b"plain", "a*": b"star",
             "apple.txt": b"apple", "b?.txt": b"question", "bx.txt": b"bx"}  # fmt: skip
    for name, data in names.items():
        served.create(f"{folder}/{name}", data)
    assert served.http("DELETE", f"files/W/{folder}/{quote('report[1].txt')}")[0] == 204
    assert served.http("GET", f"files/W/{folder}/report1.txt")[2] == b"plain"
    assert served.http("GET", f"files/W/{folder}/{quote('a*')}")[2] == b"star"
    status, _, body = served.http("GET", f"api/info/W/{folder}/{quote('b?.txt')}")
    assert (status, json.loads(body)["size"]) == (200, 8)
    served.json("POST", f"api/copy/W/{folder}/{quote('a*')}", {"destination": f"{folder}/c.txt"})
    served.json("POST", f"api/move/W/{folder}/{quote('a*')}", {"destination": f"{folder}/m.txt"})
    served.fs.rm(f"W/{folder}/b?.txt")
    assert served.fs.cat_file(f"W/{folder}/c.txt") == b"star"
    assert served.fs.cat_file(f"W/{folder}/m.txt") == b"star"
    assert sorted(served.fs.ls(f"W/{folder}", detail=False)) == [
        f"W/{folder}/{name}" for name in ("apple.txt", "bx.txt", "c.txt", "m.txt", "report1.txt")
    ]


# -- rules -----------------------------------------------------------------------


def test_a_readonly_source_refuses_every_write_before_the_store(served, folder):
    served.create(f"{folder}/kept.txt", b"kept")
    sources = {s["name"]: s for s in served.json("GET", "api/sources")}
    assert (sources["RO"]["writable"], sources["Peek"]["writable"]) == (False, False)
    for name in ("RO", "Peek"):
        for method, path, body in [
            ("PUT", f"files/{name}/{folder}/new.txt", b"x"),
            ("PUT", f"files/{name}/{folder}/kept.txt", b"x"),
            ("DELETE", f"files/{name}/{folder}/kept.txt", None),
            ("POST", f"api/mkdir/{name}/{folder}/made", None),
            ("POST", f"api/move/{name}/{folder}/kept.txt", json.dumps({"destination": "x"})),
            ("POST", f"api/copy/{name}/{folder}/kept.txt", json.dumps({"destination": "x"})),
        ]:
            status, _, answer = served.http(method, path, body)
            assert status == 403, (method, path, answer)
        assert served.http("GET", f"files/{name}/{folder}/kept.txt")[2] == b"kept"
    with pytest.raises(PermissionError):
        served.fs.pipe_file(f"RO/{folder}/new.txt", b"x")
    assert served.stored(folder) == ["kept.txt"]


def test_a_readonly_store_refuses_writes(served, folder):
    if served.store.writable:
        pytest.skip(f"{served.store.name} is writable")
    status, _, body = served.http("PUT", f"files/W/{folder}/x.txt", b"x")
    assert status == 403, body
    assert served.json("GET", "api/sources")[0]["writable"] is False


def test_a_hidden_source_answers_like_a_missing_one(served):
    hidden = served.http("GET", "api/ls/Hidden")
    missing = served.http("GET", "api/ls/Nowhere")
    assert (hidden[0], missing[0]) == (404, 404)
    assert json.loads(hidden[2])["message"] == json.loads(missing[2])["message"].replace(
        "Nowhere", "Hidden"
    )
    assert "Hidden" not in [s["name"] for s in served.json("GET", "api/sources")]


def test_username_roots(served):
    if served.store.writable:
        status, _, body = served.http("PUT", "files/Home/notes.txt", b"mine")
        assert status == 201, body
    else:
        fs, root = served.store.behind_the_back()
        fs.pipe_file(f"{root}/home/{ME}/notes.txt", b"mine")
    assert served.fs.ls("Home", detail=False) == ["Home/notes.txt"]
    if served.store.own is not None:
        fs, root = served.store.behind_the_back()
        fs.invalidate_cache()
        assert fs.cat_file(f"{root}/home/{ME}/notes.txt") == b"mine"


# -- credentials -------------------------------------------------------------------


def test_no_credential_in_any_answer(served, folder):
    served.create(f"{folder}/a.txt", b"a")
    answers = [
        served.http("GET", "api/sources"),
        served.http("GET", "api"),
        served.http("GET", f"files/W/{folder}/missing.txt"),
        served.http("GET", f"api/ls/W/{folder}/missing"),
        served.http("GET", f"api/ls/Bad/{folder}"),
        served.http("GET", f"files/Bad/{folder}/a.txt"),
        served.http("PUT", f"files/Bad/{folder}/b.txt", b"b"),
        served.http("GET", f"files/W/{folder}/a.txt", headers={"Range": "bytes=5-"}),
    ]
    for status, headers, body in answers:
        assert_no_secret_in(served.store, f"{status} {dict(headers)} {body!r}", "an answer")
    bad = next(s for s in served.json("GET", "api/sources") if s["name"] == "Bad")
    assert set(bad) == {"name", "protocol", "readonly", "available", "reason", "writable"}


# -- presigned reads ----------------------------------------------------------------

#: The stores that sign URLs, and whether their emulator here can.
PRESIGNED = {"S3": True, "Azure": True, "GCS": False}


def test_presigned_reads_serve_attachments_and_nothing_active(served, folder):
    name = served.store.name
    if name not in PRESIGNED:
        pytest.skip(f"{name} signs no URLs")
    if not PRESIGNED[name]:
        # gcsfs signs with a service account's private key; the emulator's raw token has
        # none (and a service account would need Google's token endpoint).
        with pytest.raises(AttributeError):
            served.store.own().sign(served.store.path("w/x.bin"), 60)
        pytest.skip("fake-gcs-server cannot give gcsfs credentials that sign")
    served.create(f"{folder}/data.csv", b"a,b\n" * 25)
    served.create(f"{folder}/page.html", b"<script>alert(1)</script>")
    for file, shown, attachment in [
        ("data.csv", "text/csv; charset=utf-8", False),  # as the proxy would send it
        ("page.html", "application/octet-stream", True),  # active: a download
    ]:
        status, headers, _ = served.http("GET", f"files/Signed/{folder}/{file}")
        assert status == 307, file
        location = headers["Location"]
        assert served.store.secrets[0] not in location  # S3's shows its access key's ID
        with urllib.request.urlopen(location) as answer:  # no token: the signature
            assert answer.read() == served.http("GET", f"files/W/{folder}/{file}")[2]
            if name == "S3":  # moto ignores the overrides S3 applies: they are signed in
                query = parse_qs(urlsplit(location).query)
                served_as = query["response-content-type"][0]
                disposition = query.get("response-content-disposition", [""])[0]
            else:
                served_as = answer.headers["Content-Type"]
                disposition = answer.headers.get("Content-Disposition") or ""
        assert served_as == shown
        assert disposition.startswith("attachment") == attachment


# -- fresh metadata -----------------------------------------------------------------


def test_metadata_is_fresh_after_a_change_behind_the_proxys_back(served, folder):
    if served.store.own is None:
        pytest.skip("only the proxy reaches a memory source")
    served.create(f"{folder}/a.txt", b"1" * 1000)
    assert served.http("GET", f"files/W/{folder}/a.txt")[2] == b"1" * 1000
    assert [e["name"] for e in served.json("GET", f"api/ls/W/{folder}")] == [f"W/{folder}/a.txt"]
    assert served.json("GET", f"api/info/W/{folder}/a.txt")["size"] == 1000

    fs, root = served.behind()
    fs.pipe_file(f"{root}/{folder}/a.txt", b"3" * 3000)
    fs.pipe_file(f"{root}/{folder}/b.txt", b"b" * 20)

    status, headers, body = served.http("GET", f"files/W/{folder}/a.txt")
    assert (status, len(body), body[:1]) == (200, 3000, b"3")
    assert served.json("GET", f"api/info/W/{folder}/a.txt")["size"] == 3000
    listing = sorted(served.json("GET", f"api/ls/W/{folder}"), key=lambda e: e["name"])
    assert [(e["name"], e["size"]) for e in listing] == [
        (f"W/{folder}/a.txt", 3000),
        (f"W/{folder}/b.txt", 20),
    ]
    assert served.fs.cat_file(f"W/{folder}/b.txt") == b"b" * 20


# -- conditional writes --------------------------------------------------------------


def _racing_puts(served: Served, path: str, bodies: list[bytes]) -> list[int]:
    """PUTs sent side by side: headers and half of every body, then the rest."""
    connections = []
    for body in bodies:
        connection = http.client.HTTPConnection("127.0.0.1", served.proxy.port, timeout=60)
        connection.putrequest("PUT", f"/fsspec-proxy/files/W/{path}")
        for key, value in {**AUTH, "If-None-Match": "*", "Content-Length": str(len(body))}.items():
            connection.putheader(key, value)
        connection.endheaders()
        connection.send(body[: len(body) // 2])
        connections.append(connection)
    for connection, body in zip(connections, bodies, strict=True):
        connection.send(body[len(body) // 2 :])
    statuses = []
    for connection in connections:
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
        connection.close()
    return statuses


def test_two_create_only_puts_have_one_winner(served, folder):
    served.writes()
    bodies = [b"first" * 1000, b"second" * 1000]
    statuses = _racing_puts(served, f"{folder}/once.txt", bodies)
    assert sorted(statuses) == [201, 412]
    winner = bodies[statuses.index(201)]
    assert served.http("GET", f"files/W/{folder}/once.txt")[2] == winner
    again = served.http("PUT", f"files/W/{folder}/once.txt", b"x", {"If-None-Match": "*"})
    assert again[0] == 412


def test_if_match_writes_only_over_the_named_version(served, folder):
    served.writes()
    status, headers, _ = served.http("PUT", f"files/W/{folder}/v.txt", b"one")
    assert status == 201
    stale = served.http("PUT", f"files/W/{folder}/v.txt", b"two", {"If-Match": '"nope"'})
    assert stale[0] == 412
    fresh = served.http("PUT", f"files/W/{folder}/v.txt", b"two", {"If-Match": headers["ETag"]})
    assert fresh[0] == 201
    assert served.http("GET", f"files/W/{folder}/v.txt")[2] == b"two"


# -- reloads -------------------------------------------------------------------


def test_reads_go_on_while_the_sources_are_reloaded(served, folder):
    data = b"r" * 5000
    served.create(f"{folder}/read.bin", data)
    stop = threading.Event()

    def read() -> list[tuple[int, bool]]:
        results = []
        for _ in range(25):
            status, _, body = served.http("GET", f"files/W/{folder}/read.bin")
            results.append((status, body == data))
            if stop.is_set():
                break
        return results

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(read) for _ in range(4)]
        reloads = [served.http("POST", "api/reload")[0] for _ in range(10)]
        stop.set()
        results = [result for reader in readers for result in reader.result()]
    assert set(reloads) == {200}
    assert set(results) == {(200, True)}


def test_the_log_holds_no_credential_so_far(served: Served):
    assert_no_secret_in(served.store, Path(served.proxy.log).read_text(), "the proxy's log")
