"""What a new user meets at the command line: help, version, modes, ports, config
errors, and a start-up log that describes a file proxy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from jupyter_fsspec_proxy import __version__
from jupyter_fsspec_proxy.testing.processes import free_port
from jupyter_fsspec_proxy.testing.standalone import standalone

pytestmark = pytest.mark.slow


def command(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jupyter_fsspec_proxy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def test_help_shows_modes_address_config_and_token(tmp_path):
    shown = command(tmp_path, "--help").stdout
    for needed in (
        "run ",
        "dev ",
        "private ",
        "hub ",
        "--port",
        "--ip",
        "--proxy-config",
        "--token",
    ):
        assert needed in shown, needed
    assert "FsspecProxy" in command(tmp_path, "--help-all").stdout


def test_version_is_the_packages(tmp_path):
    assert command(tmp_path, "--version").stdout.strip() == __version__


def test_a_mistyped_mode_lists_the_modes(tmp_path):
    done = command(tmp_path, "devv")
    assert done.returncode != 0
    assert "unknown mode 'devv'" in done.stderr and "run, dev, private, hub" in done.stderr


def test_a_taken_port_is_an_error_not_the_next_port(tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = command(tmp_path, "dev", f"--port={port}")
    assert done.returncode != 0
    assert str(port) in done.stdout + done.stderr


@pytest.mark.parametrize(
    "text", [None, "sources: [{name: A}]", "sources: [{name: A, path: /x, oops: 1}]"]
)
def test_run_mode_will_not_start_without_a_usable_config(tmp_path, text):
    config = tmp_path / "proxy.yaml"
    if text is not None:
        config.write_text(text)
    done = command(
        tmp_path, "run", f"--port={free_port()}", env={"FSSPEC_PROXY_CONFIG": str(config)}
    )
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert str(config) in message
    if text and "oops" in text:
        assert "source 'A'" in message and "unknown keys ['oops']" in message


HUB_ENVIRONMENT = {  # what JupyterHub gives a service it starts (the hub is not asked)
    "JUPYTERHUB_API_TOKEN": "not-asked",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
    "JUPYTERHUB_CLIENT_ID": "service-fsspec-proxy",
    "JUPYTERHUB_SERVICE_PREFIX": "/services/fsspec-proxy/",
}


@pytest.mark.parametrize("mode", ["run", "hub"])
def test_an_audit_log_that_cannot_be_written_stops_the_start(tmp_path, mode):
    """As docs/deploy/jupyterhub_config.py has it, on a machine without the folder: the
    service stops at once, saying why, rather than running without its audit log."""
    config = tmp_path / "proxy.yaml"
    config.write_text(f"sources: [{{name: Local, path: '{tmp_path}'}}]")
    audit = "/var/log/fsspec-proxy-missing-folder/audit.jsonl"
    env = {"FSSPEC_PROXY_CONFIG": str(config), **(HUB_ENVIRONMENT if mode == "hub" else {})}
    done = command(tmp_path, mode, f"--port={free_port()}", f"--ProxyManager.audit_log={audit}",
                   env=env)  # fmt: skip
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert f"c.ProxyManager.audit_log: cannot append to '{audit}'" in message
    assert "is running at" not in message


def test_the_start_up_log_describes_a_file_proxy(tmp_path):
    with standalone(tmp_path, "dev") as proxy:
        proxy.request("GET", "api")
    log = proxy.log.read_text()
    assert "fsspec-proxy" in log and "serves the sources 'Local'" in log
    for notebook_words in ("Serving notebooks", "run code", "kernels (twice"):
        assert notebook_words not in log, notebook_words


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_access_lines_for_successes_show_at_debug_level_only(tmp_path, level):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    levels = (f"--log-level={level}", f"--FsspecProxy.log_level={level}")
    with standalone(tmp_path, "run", "--IdentityProvider.token=t", *levels) as proxy:
        ok, _ = proxy.request("GET", "files/Local/a.txt", headers={"Authorization": "token t"})
        missing, _ = proxy.request("GET", "files/Local/b.txt", headers={"Authorization": "token t"})
    assert (ok.status, missing.status) == (200, 404)
    log = proxy.log.read_text()
    assert "404 GET /fsspec-proxy/files/Local/b.txt" in log  # a warning at any level
    assert ("200 GET /fsspec-proxy/files/Local/a.txt" in log) is (level == "DEBUG")
    assert ("Accepting token-authenticated request" in log) is (level == "DEBUG")


def test_the_managers_options_under_their_old_section_still_apply(tmp_path):
    """A deployment that still sets ``c.FsspecProxy.config_file`` and
    ``max_upload_size`` gets those sources and that limit, and warnings with the
    options' new names."""
    (tmp_path / "legacy").mkdir()
    config = tmp_path / "legacy.yaml"
    config.write_text(f"sources:\n  - name: Legacy\n    path: {tmp_path / 'legacy'}\n")
    legacy = (f"--FsspecProxy.config_file={config}", "--FsspecProxy.max_upload_size=10")
    with standalone(tmp_path, "dev", *legacy) as proxy:
        response, body = proxy.request("PUT", "files/Legacy/ten.bin", body=b"x" * 10)
        assert response.status == 201, body
        response, body = proxy.request("PUT", "files/Legacy/eleven.bin", body=b"x" * 11)
        assert response.status == 413, body
    assert [path.name for path in (tmp_path / "legacy").iterdir()] == ["ten.bin"]
    log = proxy.log.read_text()
    for name in ("config_file", "max_upload_size"):
        assert f"c.FsspecProxy.{name} is now c.ProxyManager.{name}" in log
