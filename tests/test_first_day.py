"""The first day: README.md, docs/jupyterlab.md and docs/jupyterhub.md followed as
written, in a fresh virtual environment that holds only what they install (the
machine's pip indexes and its node and npm, nothing else on PATH), in a copy of the
checkout without its build. If the docs drift from what works, this fails."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import yaml

from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.hub import CHP, PASSWORD
from jupyter_fsspec_proxy.testing.lab import (  # noqa: F401 - jp_*: fixtures
    BROWSER,
    StorageBrowser,
    jp_asyncio_loop,
    jp_server_cleanup,
    quiet_settings,
)
from jupyter_fsspec_proxy.testing.processes import free_port, stop, wait_for_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.hub]
ROOT = Path(__file__).parents[1]
DOCUMENTED_HUB = ROOT / "docs" / "deploy" / "jupyterhub_config.py"
# What docs/jupyterhub.md tells the admin to adapt in the documented file.
DOCUMENTED_CONFIG = "/etc/fsspec-proxy/config.yaml"
DOCUMENTED_AUDIT_LOG = "/var/log/fsspec-proxy/audit.jsonl"
DOCUMENTED_SERVICE_URL = "http://127.0.0.1:10101"
PUBLIC_HUB = "https://hub.example.org"


def bash_lines(page: Path, marker: str) -> list[str]:
    """The lines of ``page``'s bash blocks that contain ``marker``."""
    found = re.findall(r"```bash\n(.*?)```", page.read_text(), re.S)
    return [line for block in found for line in block.splitlines() if marker in line]


def without_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line)


@dataclass
class Newcomer:
    """A person's shell: a fresh venv first on PATH, in their copy of the checkout."""

    checkout: Path
    venv: Path
    env: dict[str, str]
    installed: set[str] = field(default_factory=set)

    def install(self, line: str) -> str:
        """Run an install line of the docs, unless this person ran it already."""
        if line in self.installed:
            return ""
        self.installed.add(line)
        return self.run(line, and_stderr=True)

    def run(self, line: str, *, and_stderr: bool = False) -> str:
        """What ``line`` prints (without colours); it must succeed."""
        done = subprocess.run(
            ["bash", "-ec", line], cwd=self.checkout, env=self.env,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, (line, done.stdout[-3000:], done.stderr[-3000:])
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + (done.stderr if and_stderr else ""))

    def start(self, command: list[str], log: Path, cwd: Path) -> subprocess.Popen:
        with log.open("w") as out:
            return subprocess.Popen(
                command, cwd=cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> Newcomer:
    """A copy of the checkout's files (what a clone has: no node_modules, no build)
    and a venv made with ``python -m venv``; pip keeps the machine's own indexes, npm
    may use only its cache (the tests' setup filled it), so nothing comes from afar."""
    home = tmp_path_factory.mktemp("first-day")
    checkout = home / "jupyter-fsspec-proxy"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FSSPEC_", "JUPYTER", "VIRTUAL_ENV", "PYTHON", "CONDA"))
    }
    env |= {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "npm_config_offline": "true",
        "JUPYTERLAB_SETTINGS_DIR": str(quiet_settings(home / "lab-settings")),
    }
    env.pop("PYENV_VERSION", None)
    person = Newcomer(checkout, venv, env)
    [line] = bash_lines(ROOT / "README.md", "pip install")
    person.install(line.split(" && ")[0])  # the README's install, then its start below
    return person


def test_the_readme_installs_the_proxy_and_its_jupyterlab_extension(newcomer, tmp_path):
    [line] = bash_lines(ROOT / "README.md", "pip install")
    start = line.split(" && ")[1]
    for line in bash_lines(ROOT / "docs" / "jupyterlab.md", "pip install"):
        newcomer.install(without_comment(line))
    [listing] = bash_lines(ROOT / "docs" / "jupyterlab.md", "labextension list")
    expected = listing.split("# ")[1].strip()
    listed = newcomer.run(without_comment(listing), and_stderr=True)
    assert str(newcomer.venv / "share" / "jupyter" / "labextensions") in listed
    assert re.search(r"\s+".join(map(re.escape, expected.split())), listed), listed

    port = free_port()  # the documented 8000 may be taken: only the port differs
    command = [*shlex.split(start), f"--port={port}"]
    process = newcomer.start(command, tmp_path / "dev.log", tmp_path)
    try:
        wait_for_port(port, process, "jupyter fsspec-proxy dev", timeout=60)
        readme = (ROOT / "README.md").read_text()
        block = re.search(r"## Try it\n+```bash\n(.*?)```", readme, re.S)[1]
        [address, *curls] = block.splitlines()
        printed = [newcomer.run(f"{address}\n{line}".replace("8000", str(port))) for line in curls]
    finally:
        stop(process)
    sources, written, ranged, listed = printed
    assert [s["name"] for s in json.loads(sources)] == ["Conda Stats", "Scratch"]
    assert json.loads(written)["name"] == "Scratch/hello.txt"
    assert ranged == curls[2].split("# ")[1]
    assert json.loads(listed) == ["Scratch/hello.txt"]


@dataclass
class RunningHub:
    url: str
    process: psutil.Process

    def environ(self, marker: str) -> dict[str, str]:
        """The environment of the one process the hub started whose command holds
        ``marker``."""
        [child] = [
            child
            for child in self.process.children(recursive=True)
            if marker in " ".join(child.cmdline())
        ]
        return child.environ()


HUB_ADMIN = """
exec(open("documented_jupyterhub_config.py").read())
# The admin's own choices, which the page leaves to them: where the hub listens,
# who logs in, and how users' servers start (as root here: no system users).
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{"alice"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.args.append("--allow-root")
# The test's window into the page (window.jupyterapp), nothing a user needs.
c.Spawner.args.append("--LabApp.expose_app_in_browser=True")
"""

READ_IN_A_KERNEL = """async code => {
  const kernel = await window.jupyterapp.serviceManager.kernels.startNew();
  const printed = [];
  const future = kernel.requestExecute({ code });
  future.onIOPub = message => {
    const content = message.content;
    if (content.text) printed.push(content.text);
    if (content.ename) printed.push(`${content.ename}: ${content.evalue}`);
  };
  await future.done;
  await kernel.shutdown();
  return printed.join('');
}"""


@pytest.fixture(scope="module")
def hub(newcomer, tmp_path_factory) -> Iterator[RunningHub]:
    """docs/jupyterhub.md followed on one machine: its installs (configurable-http-proxy
    from the tests' npm folder, on PATH), the documented jupyterhub_config.py with the
    paths the page tells the admin to set, and the admin's own authenticator and
    spawner."""
    page = ROOT / "docs" / "jupyterhub.md"
    for line in bash_lines(page, "pip install"):
        newcomer.install(without_comment(line))
    home = tmp_path_factory.mktemp("hub-admin")
    (home / "team").mkdir()
    (home / "team" / "hello.txt").write_text("hello from the team")
    (home / "users").mkdir()
    config = home / "config.yaml"
    config.write_text(yaml.safe_dump({"sources": [{"name": "Team", "path": str(home / "team")}]}))
    (home / "log").mkdir()
    service_url = f"http://127.0.0.1:{free_port()}"
    documented = DOCUMENTED_HUB.read_text()
    for old, new, named in [
        (DOCUMENTED_SERVICE_URL, service_url, DOCUMENTED_SERVICE_URL.rsplit(":", 1)[1]),
        (DOCUMENTED_CONFIG, str(config), DOCUMENTED_CONFIG),
        (DOCUMENTED_AUDIT_LOG, str(home / "log" / "audit.jsonl"), DOCUMENTED_AUDIT_LOG),
    ]:
        assert old in documented and f"`{named}" in page.read_text(), named  # to be set
        documented = documented.replace(old, new)
    (home / "documented_jupyterhub_config.py").write_text(documented)
    port = free_port()
    (home / "jupyterhub_config.py").write_text(
        HUB_ADMIN.format(
            port=port, hub_port=free_port(), proxy_api_port=free_port(),
            password=PASSWORD, homes=str(home / "users"),
        )
    )  # fmt: skip
    newcomer.env["PATH"] = f"{CHP.parent}:{newcomer.env['PATH']}"
    process = newcomer.start(["jupyterhub"], home / "jupyterhub.log", home)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process, "jupyterhub", timeout=90)
        wait_for_port(int(service_url.rsplit(":", 1)[1]), process, "the service", timeout=90)
        wait_until(lambda: routed(f"{url}/services/fsspec-proxy/fsspec-proxy/api"), "routes", 60)
        yield RunningHub(url, psutil.Process(process.pid))
    finally:
        children = psutil.Process(process.pid).children(recursive=True)
        stop(process, timeout=20)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def routed(url: str) -> bool:
    """Whether the hub's proxy sends ``url`` to the service (which answers 403)."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError as error:
        return error.code == 403
    except OSError:
        return False
    return True


def test_a_hub_users_kernel_and_jupyterlab_reach_the_service_with_nothing_passed(
    newcomer, hub: RunningHub
):
    url = hub.url
    doc = (ROOT / "docs" / "jupyterhub.md").read_text()
    [images] = [row for row in doc.splitlines() if row.startswith("| users' images")]
    [client, jupyterlab] = re.findall(r"`(pip install [^`]+)`", images)  # here: one venv
    installed = newcomer.install(client.replace(PUBLIC_HUB, url))
    assert f"{url}/services/fsspec-proxy/fsspec-proxy/client/simple/" in installed
    newcomer.install(jupyterlab)  # what docs/jupyterlab.md installed, on this machine
    with chromium_sync() as browser:
        page = browser.context.new_page()
        page.goto(f"{url}/hub/login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(f"{url}/user/alice/**", timeout=180_000)
        lab = StorageBrowser(page)
        lab.start(f"{url}/user/alice/lab")
        code = 'import fsspec\nprint(fsspec.open("proxy://Team/hello.txt", "rt").open().read())'
        assert page.evaluate(READ_IN_A_KERNEL, code).strip() == "hello from the team"
        lab.go("Team")
        lab.wait_for_names(["hello.txt"])
        service = f"{url}/services/fsspec-proxy/fsspec-proxy/"
        calls = [r for r in lab.responses if r.url.startswith(service)]
        assert calls and all("authorization" not in r.request.headers for r in calls)
        assert browser.outside(url) == []
        # The hub tokens of the service and of alice's server: in no answer the page got.
        tokens = [hub.environ(marker)["JUPYTERHUB_API_TOKEN"] for marker in HUB_TOKEN_HOLDERS]
        assert lab.responses_holding(*tokens) == []


#: The processes holding a hub token: the service, alice's server (by their commands).
HUB_TOKEN_HOLDERS = ["fsspec-proxy hub", "jupyterhub-singleuser"]
