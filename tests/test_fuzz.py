"""Schemathesis fuzzes the API from the OpenAPI document the server serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import jupyter_fsspec_proxy
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow

DOCUMENT = yaml.safe_load((Path(jupyter_fsspec_proxy.__file__).parent / "openapi.yaml").read_text())

TOKEN = "fuzz-token"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
EXAMPLES = 25  # per operation: bounded so the suite stays fast


def test_schemathesis_finds_no_server_error_or_schema_breach(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "file.txt").write_text("fuzz me")
    sources = [
        {"name": "Local", "path": str(data)},
        {"name": "Scratch", "path": "memory://fuzz"},
        {"name": "Readonly", "path": str(data), "readonly": True},
    ]
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    with standalone(tmp_path, "run", f"--IdentityProvider.token={TOKEN}") as proxy:
        command = [
            shutil.which("schemathesis") or "schemathesis",
            "run",
            f"http://127.0.0.1:{proxy.port}/fsspec-proxy/api/openapi.json",
            "--header",
            f"Authorization: token {TOKEN}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(EXAMPLES),
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    summary = done.stdout.split("SUMMARY")[-1]
    assert done.returncode == 0, done.stdout[-4000:]
    # Every documented operation (schemathesis may leave out a HEAD).
    operations = sum(m != "head" for ops in DOCUMENT["paths"].values() for m in ops)
    tested = re.search(r"Tested: (\d+)", summary)
    assert tested is not None and int(tested[1]) >= operations, summary
    assert "failure" not in summary, summary
    print(next(line for line in summary.splitlines() if "generated" in line))
