"""A real JupyterHub (from PyPI, with configurable-http-proxy from npm) that runs the
proxy as a managed service, or knows it as an external one that the test starts:
dummy authenticator with a password, no user servers."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from traitlets.config import Config, PyFileConfigLoader

from . import DOCS, TESTS
from .lab import quiet_settings
from .processes import free_port, stop, wait_for_port

CHP = TESTS / "browser" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-password"
SERVICE = "fsspec-proxy"
ADMIN_TOKEN = "hub-test-admin-token-5e1f"
#: the token of the hub service named "carol", like the user carol
SERVICE_TOKEN = "hub-test-service-carol-9a2c"

DOCUMENTED = DOCS / "deploy" / "jupyterhub_config.py"
# The documented file, run as is, then given this machine's ports and paths, the
# test users and an admin service for the tests; nothing else changes.
CONFIG = """
exec(open({documented!r}).read())
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{home}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{home}/cookie_secret"
c.JupyterHub.pid_file = "{home}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.load_groups = {groups!r}
service = c.JupyterHub.services[0]
documented_url, service["url"] = service["url"], "http://127.0.0.1:{service_port}"
kernels = c.Spawner.environment
kernels["FSSPEC_PROXY_ENDPOINT_URL"] = kernels["FSSPEC_PROXY_ENDPOINT_URL"].replace(
    documented_url, service["url"]
)
if "command" in service:  # managed: the hub starts it (an external one, the test)
    service["command"] = [
        *(arg for arg in service["command"] if not arg.startswith("--ProxyManager.audit_log")),
        *{options!r},
    ]
    service["environment"]["FSSPEC_PROXY_CONFIG"] = {config!r}
c.Authenticator.admin_users = {admins!r}
c.JupyterHub.services.append({{"name": "tester", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "tester", "services": ["tester"],
      "scopes": ["admin:users", "admin:groups", "tokens"]}}
)
# A service named like a user, allowed to reach the proxy: it is not that user.
c.JupyterHub.services.append({{"name": "carol", "api_token": {service_token!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "carol-service", "services": ["carol"],
      "scopes": ["access:services!service=fsspec-proxy"]}}
)
"""
# Users' servers, when a test wants them: JupyterLab (with the extension, as
# installed here) run by the hub's simple local spawner as this process's user.
USER_SERVERS = """
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{home}/users/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args += ["--allow-root", "--LabApp.expose_app_in_browser=True"]
c.Spawner.default_url = "/lab"
c.Spawner.environment["JUPYTERLAB_SETTINGS_DIR"] = {settings!r}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
"""


@dataclass
class External:
    """A service that the hub does not start: its documented hub config, where the
    hub sends its requests, and what the hub's environment holds for it."""

    documented: Path
    service_port: int
    environment: dict[str, str]


@dataclass
class Hub:
    url: str
    service_port: int
    log: Path
    api_url: str = ""  # the hub's own API, as services reach it
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def proxy_url(self) -> str:
        """The proxy's address for clients: through the hub, under the service prefix."""
        return f"{self.url}/services/{SERVICE}/fsspec-proxy/"

    @property
    def direct_url(self) -> str:
        """The same at the service's own URL (c.JupyterHub.services' url), as kernels
        reach it without the hub's proxy."""
        return f"http://127.0.0.1:{self.service_port}/services/{SERVICE}/fsspec-proxy/"

    def configuration(self) -> Config:
        """The config the hub runs: the documented file with this machine's ports."""
        return PyFileConfigLoader("jupyterhub_config.py", str(self.log.parent)).load_config()

    def wait_for_service(self, timeout: float = 60) -> None:
        """Until the hub's proxy routes to the service and the service answers."""
        _wait_for_routes([f"{self.proxy_url}api"], None, timeout)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/hub/api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {ADMIN_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def token_for(self, user: str, scopes: list[str] | None = None) -> str:
        """A hub API token of ``user``: with the user's own scopes, or only ``scopes``."""
        key = f"{user} {scopes}" if scopes else user
        if key not in self.tokens:
            try:
                self.api("POST", f"users/{user}")
            except urllib.error.HTTPError as error:
                if error.code != 409:  # exists already
                    raise
            request = {"note": "tests", **({"scopes": scopes} if scopes else {})}
            self.tokens[key] = self.api("POST", f"users/{user}/tokens", request)["token"]
        return self.tokens[key]


@contextmanager
def jupyterhub(
    home: Path,
    config: Path,
    users: dict[str, list[str]],
    options: list[str],
    admins: frozenset[str] = frozenset(),
    external: External | None = None,
    user_servers: bool = False,
) -> Iterator[Hub]:
    """A hub on 127.0.0.1 with ``users`` (name -> groups, ``admins`` among them) and
    the proxy as a service: managed, or ``external`` (then the caller starts it and
    waits for it with ``Hub.wait_for_service``); with ``user_servers``, each user who
    logs in gets a JupyterLab."""
    port, hub_port = free_port(), free_port()
    service_port = external.service_port if external else free_port()
    groups: dict[str, dict] = {}
    for user, names in users.items():
        for group in names:
            groups.setdefault(group, {"users": []})["users"].append(user)
    (home / "jupyterhub_config.py").write_text(
        CONFIG.format(
            port=port,
            hub_port=hub_port,
            proxy_api_port=free_port(),
            chp=str(CHP),
            home=home,
            password=PASSWORD,
            users=set(users),
            groups=groups,
            service_port=service_port,
            options=options,
            config=str(config),
            documented=str(external.documented if external else DOCUMENTED),
            admin_token=ADMIN_TOKEN,
            service_token=SERVICE_TOKEN,
            admins=set(admins),
        )
        + (
            USER_SERVERS.format(
                home=home,
                python=sys.executable,
                settings=str(quiet_settings(home / "lab-settings")),
            )
            if user_servers
            else ""
        )
    )
    log = home / "jupyterhub.log"
    command = [sys.executable, "-m", "jupyterhub", "-f", str(home / "jupyterhub_config.py")]
    env = {**os.environ, **(external.environment if external else {})}
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=home, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            wait_for_port(port, process, "jupyterhub", timeout=90)
            hub = Hub(
                f"http://127.0.0.1:{port}",
                service_port,
                log,
                f"http://127.0.0.1:{hub_port}/hub/api",
            )
            routes = [f"{hub.url}/hub/api/"]
            if not external:
                wait_for_port(service_port, process, "the fsspec-proxy service", timeout=90)
                routes.append(f"{hub.proxy_url}api")
            _wait_for_routes(routes, process)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log.read_text()[-3000:]}") from None
        yield hub
    finally:
        children = psutil.Process(process.pid).children(recursive=True)
        stop(process, timeout=20)
        for child in children:  # the service and the proxy, even if the hub died early
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def _wait_for_routes(
    urls: list[str], process: subprocess.Popen | None, timeout: float = 60
) -> None:
    """Until the hub's proxy routes to the hub and the service (added after start)."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except urllib.error.HTTPError as error:
                if error.code == 403:  # the service, answering: routed
                    break
            except OSError:
                pass
            if (process and process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"{url} is not routed")
            time.sleep(0.2)
