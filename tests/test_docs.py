"""The shell commands of the quickstart, run as written against a real proxy (only
the port differs): each line ending in ``# <text>`` must print that text."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from standalone_harness import standalone

from jupyter_fsspec_proxy.config import parse_yaml

DOCS = Path(__file__).parents[1] / "docs"
STARTS = ("jupyter fsspec-proxy", "pip install")  # done by the harness, as in the doc


def blocks(page: str) -> list[list[str]]:
    """The ``bash`` blocks of a page, as lines, without the commands that start things."""
    found = re.findall(r"```bash\n(.*?)```", (DOCS / page).read_text(), re.S)
    return [[line for line in block.splitlines() if not line.startswith(STARTS)] for block in found]


def run_checked(lines: list[str], port: int) -> None:
    for number, line in enumerate(lines):
        expected = re.search(r"#\s+(.+)$", line)
        before = [
            re.sub(r"\s+#\s.*$", "", previous) + " > /dev/null" for previous in lines[:number]
        ]
        script = "\n".join([*before, line]).replace("8000", str(port))
        if expected is None or "needs internet" in line or "what is served" in line:
            continue
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
        printed = out.stdout.strip().splitlines()
        assert printed and printed[-1] == expected[1].strip(), (line, out.stdout, out.stderr)


@pytest.fixture
def scratch_config(tmp_path: Path) -> Path:
    (tmp_path / "proxy.yaml").write_text("sources: [{name: Scratch, path: 'memory://doc'}]")
    return tmp_path


def test_quickstart_dev_mode_lines(scratch_config):
    dev_block = next(b for b in blocks("quickstart.md") if any("Range" in line for line in b))
    with standalone(scratch_config, "dev") as proxy:
        run_checked(dev_block, proxy.port)


def test_quickstart_token_lines(scratch_config):
    token_block = next(b for b in blocks("quickstart.md") if any("$T" in line for line in b))
    with standalone(scratch_config, "run", "--token=my-secret-token") as proxy:
        run_checked(token_block, proxy.port)


def test_quickstart_client_from_the_proxys_own_index(scratch_config, tmp_path):
    [line] = [
        line
        for block in re.findall(r"```bash\n(.*?)```", (DOCS / "quickstart.md").read_text(), re.S)
        for line in block.splitlines()
        if "--index-url" in line
    ]
    with standalone(scratch_config, "dev") as proxy:
        command = line.replace("8000", str(proxy.port)).replace("pip install", "")
        target = tmp_path / "installed"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
             *command.split()],
            check=True,
            timeout=120,
        )  # fmt: skip
    assert list(target.glob("fsspec_proxy_client-*.dist-info"))


@pytest.mark.parametrize("page", ["configuration.md", "access.md", "backends.md"])
def test_the_source_configs_in_the_docs_are_valid(page):
    configs = [
        text
        for text in re.findall(r"```yaml\n(.*?)```", (DOCS / page).read_text(), re.S)
        if text.startswith("sources:")
    ]
    assert configs
    for text in configs:
        assert parse_yaml(text, page)
