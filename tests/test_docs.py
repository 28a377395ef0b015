"""The shell commands of the quickstart, run as written against a real proxy (only
the port differs): each line ending in ``# <text>`` must print that text."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from jupyter_server.extension.application import ExtensionApp

from jupyter_fsspec_proxy.app import FsspecProxy
from jupyter_fsspec_proxy.config import parse_yaml
from jupyter_fsspec_proxy.manager import ProxyManager
from jupyter_fsspec_proxy.testing.routes import served
from jupyter_fsspec_proxy.testing.standalone import standalone

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


@pytest.mark.slow
def test_quickstart_dev_mode_lines(scratch_config):
    dev_block = next(b for b in blocks("quickstart.md") if any("Range" in line for line in b))
    with standalone(scratch_config, "dev") as proxy:
        run_checked(dev_block, proxy.port)


@pytest.mark.slow
def test_quickstart_token_lines(scratch_config):
    token_block = next(b for b in blocks("quickstart.md") if any("$T" in line for line in b))
    with standalone(scratch_config, "run", "--token=my-secret-token") as proxy:
        run_checked(token_block, proxy.port)


def documented_lines(page: str, marker: str) -> list[str]:
    """The lines of a page's ``bash`` blocks that contain ``marker``."""
    found = re.findall(r"```bash\n(.*?)```", (DOCS / page).read_text(), re.S)
    return [line for block in found for line in block.splitlines() if marker in line]


@pytest.mark.slow
def test_a_fresh_venv_installs_the_client_from_the_proxy_alone_and_uses_the_environment(
    scratch_config, tmp_path
):
    """quickstart.md's and client.md's lines, on a Python with nothing installed, no
    package index but the proxy's, and a token-protected proxy (the index is public)."""
    [install] = documented_lines("quickstart.md", "--index-url")
    environment = documented_lines("client.md", "FSSPEC_PROXY_")
    [read] = documented_lines("client.md", "python -c")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "FSSPEC_"))}
    clean |= {"PIP_CONFIG_FILE": os.devnull, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    with standalone(scratch_config, "run", "--token=my-secret-token") as proxy:
        token = {"Authorization": "token my-secret-token"}
        assert proxy.request("PUT", "files/Scratch/hello.txt", b"hi", token)[0].status == 201
        script = "\n".join([install + " --quiet --no-cache-dir", *environment, read])
        done = subprocess.run(
            ["bash", "-ec", script.replace("8000", str(proxy.port))],
            env=clean, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "b'hi'"
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze"],
        env=clean, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert {line.split("==")[0] for line in installed.split()} >= {"fsspec", "fsspec-proxy-client"}


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


def test_the_configuration_page_names_every_option_under_its_class():
    """Each configurable trait of the extension and of its manager has a row in the
    table of its own class on docs/configuration.md, and no row names a trait that is
    not there."""
    page = (DOCS / "configuration.md").read_text()
    extension, manager = page.split("The proxy's policy")
    for cls, table in ((FsspecProxy, extension), (ProxyManager, manager)):
        rows = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
        traits = set(cls.class_trait_names(config=True))
        if cls is FsspecProxy:  # Jupyter's own options of every extension
            traits -= set(ExtensionApp.class_trait_names(config=True))
        assert rows == traits


def documented_routes(table: str) -> set[str]:
    """The routes the first column of the HTTP API's table names, each part ``{}``."""
    named = set()
    for row in re.findall(r"^\| (.+?) \|", table, re.MULTILINE):
        for route in re.findall(r"`(?:[A-Z]+ )?([a-z](?:<[^>]*>|[^` ])*)`", row):
            route = re.sub(r"<[^>]+>|\.\.\.", "{}", route.partition("?")[0])
            whole, optional, rest = re.fullmatch(r"([^[]*)(?:\[(.*)\])?(.*)", route).groups()
            named |= {whole + rest} | ({whole + optional + rest} if optional else set())
    return named


def test_the_http_api_page_names_every_route_and_nothing_else():
    table = (DOCS / "http-api.md").read_text().partition("\n## ")[0]
    assert documented_routes(table) == set(served())


def test_the_fast_part_of_the_suite_leaves_out_every_slow_kind():
    (command,) = blocks("developing.md")[0]
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "pytest", "-m"] and len(words) == 5
    pytest_config = tomllib.loads((DOCS.parent / "pyproject.toml").read_text())["tool"]["pytest"]
    registered = {marker.partition(":")[0] for marker in pytest_config["ini_options"]["markers"]}
    assert re.fullmatch(r"not \w+( and not \w+)*", words[4])
    assert set(re.findall(r"not (\w+)", words[4])) == registered
