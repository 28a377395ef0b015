"""Access rules, per-user paths and the audit log in a plain Jupyter server, where
the server's token holder is the server's own user (the hub: tests/test_hub.py)."""

from __future__ import annotations

import asyncio
import getpass
import json
import time

import pytest

from jupyter_fsspec_proxy.access import Caller, parse_access, user_segment
from jupyter_fsspec_proxy.audit import ANONYMOUS_BURST, ANONYMOUS_RATE
from jupyter_fsspec_proxy.config import ConfigError, parse_sources
from jupyter_fsspec_proxy.testing.calls import body_json

ME = getpass.getuser()


@pytest.fixture
def sources(local_root) -> list[dict]:
    return [
        {"name": "Mine", "path": "memory://mine", "access": {"write": [f"user:{ME}"]}},
        {"name": "Theirs", "path": "memory://theirs", "access": {"read": ["user:someone-else"]}},
        {"name": "Peek", "path": "memory://peek", "access": {"read": ["*"]}},
        {"name": "Home", "path": f"{local_root}/{{username}}"},
    ]


@pytest.fixture
def proxy_config(tmp_path) -> dict:
    return {"audit_log": str(tmp_path / "audit.jsonl")}


async def test_rules_decide_what_the_server_user_sees_and_does(proxy):
    listed = {s["name"]: s["writable"] for s in body_json(await proxy("api", "sources"))}
    assert listed == {"Mine": True, "Peek": False, "Home": True}
    assert (await proxy("files", "Mine", "a.txt", method="PUT", body=b"x")).code == 201
    denied = await proxy("files", "Peek", "a.txt", method="PUT", body=b"x")
    assert denied.code == 403 and "not write" in body_json(denied)["message"]
    hidden, missing = await proxy("api", "ls", "Theirs"), await proxy("api", "ls", "Nowhere")
    assert (hidden.code, missing.code) == (404, 404)
    assert body_json(hidden)["message"] == body_json(missing)["message"].replace(
        "Nowhere", "Theirs"
    )


async def test_user_roots_are_made_on_first_write(proxy, local_root):
    assert body_json(await proxy("api", "ls", "Home")) == []  # nothing yet: empty
    assert not (local_root / ME).exists()
    assert (await proxy("files", "Home", "notes.txt", method="PUT", body=b"mine")).code == 201
    assert (local_root / user_segment(ME) / "notes.txt").read_bytes() == b"mine"


async def test_every_request_naming_a_source_is_audited(proxy, tmp_path):
    await proxy("files", "Mine", "b.txt", method="PUT", body=b"12345")
    await proxy("files", "Mine", "b.txt")
    await proxy("api", "ls", "Theirs")
    await proxy("api", "sources")  # names no source: not audited
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["user"], e["operation"], e["source"], e["status"]) for e in lines] == [
        (ME, "PUT files", "Mine", 201),
        (ME, "GET files", "Mine", 200),
        (ME, "GET api/ls", "Theirs", 404),
    ]
    assert lines[1]["bytes"] == 5 and lines[1]["path"] == "b.txt"


def audit_lines(tmp_path) -> list[dict]:
    """The audit file as a line-based reader sees it: every line one JSON record."""
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


async def test_a_record_is_one_line_for_every_reader(proxy, tmp_path):
    name = "a\u2028b\x85c\u2029d.txt"  # line breaks to str.splitlines, raw in JSON
    assert (await proxy("files", "Mine", name, method="PUT", body=b"x")).code == 201
    assert (await proxy("files", "Mine", name)).code == 200
    records = audit_lines(tmp_path)
    assert [(r["operation"], r["path"]) for r in records] == [
        ("PUT files", name),
        ("GET files", name),
    ]


async def test_refusals_are_audited_with_the_client_address(raw, tmp_path):
    assert (await raw("files/Mine/x.txt", auth=False)).code == 403
    wrong = {"Authorization": "token wrong"}
    refused = await raw("files/Mine/x.txt", auth=False, method="DELETE", headers=wrong)
    assert refused.code == 403
    records = audit_lines(tmp_path)
    assert [(r["user"], r["operation"], r["source"], r["path"], r["status"]) for r in records] == [
        (None, "GET files", "Mine", "x.txt", 403),
        (None, "DELETE files", "Mine", "x.txt", 403),
    ]
    assert {r["client"] for r in records} == {"127.0.0.1"}
    assert "wrong" not in (tmp_path / "audit.jsonl").read_text()


async def test_a_flood_of_anonymous_refusals_is_counted_not_written(raw, tmp_path):
    started = time.monotonic()
    for _ in range(300):
        await raw("files/Mine/flood.txt", auth=False)
    took = time.monotonic() - started
    written = audit_lines(tmp_path)
    # the burst, and what the rate allows meanwhile (10 a second: not the machine's speed)
    assert 100 <= len(written) <= ANONYMOUS_BURST + int(took * ANONYMOUS_RATE) + 1, took
    await asyncio.sleep(0.2)
    await raw("files/Mine/after.txt", auth=False)
    records = audit_lines(tmp_path)
    assert records[-1]["path"] == "after.txt"
    # every refusal is either a record or counted in a later one
    assert len(written) + sum(r.get("unlogged_refusals", 0) for r in records) == 300


async def test_every_path_a_request_touches_is_in_its_record(proxy, tmp_path):
    assert (await proxy("files", "Mine", "harmless.txt", method="PUT", body=b"h")).code == 201
    assert (await proxy("files", "Mine", "payroll.csv", method="PUT", body=b"p")).code == 201
    ranges = [{"path": "Mine/harmless.txt", "start": 0, "end": 1}]
    ranges += [{"path": "Mine/payroll.csv", "start": 0, "end": 1}]
    batch = await proxy("api", "ranges", method="POST", body=json.dumps({"ranges": ranges}))
    assert batch.code == 200
    copy = json.dumps({"destination": "copy.csv"})
    assert (await proxy("api", "copy", "Mine", "payroll.csv", method="POST", body=copy)).code == 201
    batch_record, copy_record = audit_lines(tmp_path)[-2:]
    assert batch_record["operation"] == "POST api/ranges"
    assert batch_record["paths"] == ["Mine/harmless.txt", "Mine/payroll.csv"]
    assert copy_record["paths"] == ["Mine/payroll.csv", "Mine/copy.csv"]


@pytest.mark.parametrize(
    ("access", "complaint"),
    [
        ("read", "must be a mapping"),
        ({"read": "*"}, "must be a list"),
        ({"read": ["users:x"]}, "is not 'user:NAME'"),
        ({"read": ["group:"]}, "is not 'user:NAME'"),
        ({"admin": ["*"]}, "must be a mapping"),
    ],
)
def test_bad_rules_are_explained(access, complaint):
    with pytest.raises(ConfigError, match=complaint) as raised:
        parse_sources([{"name": "S", "path": "memory://s", "access": access}], "file.yaml")
    assert "source 'S'" in str(raised.value)


def test_only_the_username_placeholder_is_allowed():
    with pytest.raises(ConfigError, match="only placeholder"):
        parse_sources([{"name": "S", "path": "s3://b/{user}"}], "file.yaml")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a\x00b"])
def test_names_that_would_widen_a_root_are_refused(name):
    with pytest.raises(PermissionError):
        user_segment(name)


def test_names_are_escaped_into_one_segment():
    assert user_segment("alice") == "alice"
    assert user_segment("a b%2f..") == "a%20b%252f.."
    assert user_segment("jo@example.org") == "jo@example.org"


def test_write_implies_read_and_groups_match():
    rules = parse_access({"read": ["group:a"], "write": ["user:w"]}, "x")
    assert rules.may_read(Caller("w")) and rules.may_write(Caller("w"))
    assert rules.may_read(Caller("g", frozenset({"a"})))
    assert not rules.may_write(Caller("g", frozenset({"a"})))
    assert not rules.may_read(Caller("nobody"))
