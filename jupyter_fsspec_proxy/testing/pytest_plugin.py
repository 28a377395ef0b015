"""The fixtures of tests/: a real S3 protocol server (moto), a Jupyter server with the
proxy (pytest-jupyter's, loaded first by tests/conftest.py) and a standalone one."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..app import FsspecProxy
from ..manager import ProxyManager
from .sources import ACCESS_KEY, BUCKET, SECRET, SERVED_TOKEN, dead_s3_kwargs, moto_s3, s3_kwargs
from .standalone import Proxy, standalone

pytest_plugins = ["jupyter_fsspec_proxy.testing.stores"]


@pytest.fixture(scope="session")
def browser_site(tmp_path_factory) -> Path:
    """The browser harness site, one per session: jupyter_server caches static
    file paths for the life of the process, so every server must see one site."""
    from .browser import build_site, built_wheels

    return build_site(tmp_path_factory.mktemp("site") / "harness", built_wheels())


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Proxy]:
    """A standalone proxy (run mode, ``SERVED_TOKEN``) with a local and a memory source,
    for blocking clients that cannot share the test's event loop with the server."""
    home = tmp_path_factory.mktemp("served")
    (home / "local").mkdir()
    sources = [
        {"name": "Local", "path": str(home / "local")},
        {"name": "Memory", "path": f"memory://served-{uuid.uuid4().hex}"},
    ]
    (home / "proxy.yaml").write_text(yaml.safe_dump({"sources": sources}))
    with standalone(home, "run", f"--IdentityProvider.token={SERVED_TOKEN}") as proxy:
        yield proxy


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, with one bucket."""
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_prefix(s3_endpoint: str) -> str:
    """A fresh prefix in the test bucket, so tests never see each other's objects."""
    return f"{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture
def local_root(tmp_path: Path) -> Path:
    root = tmp_path / "local"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("sentinel outside the root")
    return root


@pytest.fixture
def readonly_root(tmp_path: Path) -> Path:
    root = tmp_path / "readonly"
    root.mkdir()
    (root / "kept.txt").write_text("do not touch")
    return root


@pytest.fixture
def sources(local_root, readonly_root, s3_endpoint, s3_prefix) -> list[dict]:
    return [
        # Secrets in every kind of source, whether or not its backend uses them.
        {
            "name": "Scratch",
            "path": f"memory://scratch-{uuid.uuid4().hex}",
            "kwargs": {"token": SECRET},
        },
        {"name": "Local", "path": str(local_root), "kwargs": {"password": ACCESS_KEY}},
        {"name": "Readonly", "path": str(readonly_root), "readonly": True},
        {"name": "S3", "path": f"s3://{s3_prefix}", "kwargs": s3_kwargs(s3_endpoint)},
        {"name": "Broken", "path": "nosuchprotocol://x", "kwargs": {"token": SECRET}},
        {"name": "S3Down", "path": f"s3://{s3_prefix}", "kwargs": dead_s3_kwargs()},
    ]


@pytest.fixture
def proxy_config() -> dict:
    """Extra ProxyManager traits (the proxy's policy) for one test module or test."""
    return {}


@pytest.fixture
def extension_config() -> dict:
    """Extra FsspecProxy traits (the extension's pages and mode) for one test or module."""
    return {}


@pytest.fixture
def config_file(tmp_path: Path, sources: list[dict]) -> Path:
    """The sources as a YAML config file: where secrets belong (traits get logged)."""
    path = tmp_path / "fsspec-proxy.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return path


@pytest.fixture
def authorizer_class() -> type | None:
    """Replace to run a test under another jupyter_server Authorizer."""
    return None


@pytest.fixture
def jp_server_config(config_file, proxy_config, extension_config, authorizer_class):
    for cls, options in ((ProxyManager, proxy_config), (FsspecProxy, extension_config)):
        unknown = set(options) - set(cls.class_trait_names(config=True))
        assert not unknown, f"not options of {cls.__name__}: {unknown}"
    server = {"jpserver_extensions": {"jupyter_fsspec_proxy": True}}
    if authorizer_class is not None:
        server["authorizer_class"] = authorizer_class
    return {
        "ServerApp": server,
        "ProxyManager": {"config_file": str(config_file), **proxy_config},
        "FsspecProxy": extension_config,
    }


@pytest.fixture
def proxy(jp_fetch):
    """Fetch ``fsspec-proxy/<parts>``; errors come back as responses, not exceptions."""

    async def fetch(*parts: str, **kwargs):
        kwargs.setdefault("raise_error", False)
        return await jp_fetch("fsspec-proxy", *parts, **kwargs)

    return fetch


@pytest.fixture
def raw(http_server_client, jp_base_url, jp_auth_header):
    """Fetch an already-encoded URL below ``{base_url}fsspec-proxy/``, token included."""

    async def fetch(path: str, *, auth: bool = True, **kwargs):
        headers = {**(jp_auth_header if auth else {}), **kwargs.pop("headers", {})}
        url = f"{jp_base_url}fsspec-proxy/{path}"
        return await http_server_client.fetch(url, headers=headers, raise_error=False, **kwargs)

    return fetch


class LogCapture(logging.Handler):
    """Every formatted record of the loggers a server writes to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_logs(jp_serverapp) -> Iterator[LogCapture]:
    capture = LogCapture()
    loggers = [logging.getLogger(), jp_serverapp.log]
    loggers += [logging.getLogger(n) for n in ("tornado.access", "tornado.application")]
    for logger in loggers:
        logger.addHandler(capture)
    yield capture
    for logger in loggers:
        logger.removeHandler(capture)
