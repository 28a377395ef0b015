"""The Storage panel in the JupyterLab of JupyterHub users, with the proxy as a hub
service: each user's panel shows and writes what that user's rules allow, through
the user's own hub login (no shared token), configured once by the admin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from jupyter_fsspec_proxy.testing.browser import chromium_sync
from jupyter_fsspec_proxy.testing.hub import PASSWORD, SERVICE, Hub, jupyterhub
from jupyter_fsspec_proxy.testing.lab import (  # noqa: F401 - jp_*: fixtures
    BROWSER,
    StorageBrowser,
    jp_asyncio_loop,
    jp_server_cleanup,
)
from jupyter_fsspec_proxy.testing.processes import wait_until
from jupyter_fsspec_proxy.testing.sources import ACCESS_KEY, SECRET

pytestmark = [pytest.mark.browser, pytest.mark.hub]

USERS = {"alice": ["analysts"], "bob": []}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    home = tmp_path_factory.mktemp("lab-hub")
    return {"home": home, "team": home / "team", "homes": home / "homes"}


@pytest.fixture(scope="module")
def hub(folders) -> Iterator[Hub]:
    for name in ("team", "homes"):
        folders[name].mkdir()
    for user in USERS:
        (folders["homes"] / user).mkdir()
    sources = [
        {
            "name": "Team",
            "path": str(folders["team"]),
            "kwargs": {"password": ACCESS_KEY},
            "access": {"read": ["group:analysts"], "write": ["group:analysts"]},
        },
        {
            "name": "Home",
            "path": f"{folders['homes']}/{{username}}",
            "access": {"read": ["*"], "write": ["*"]},
        },
        {
            "name": "Everyone",
            "path": f"memory://lab-hub-{uuid.uuid4().hex}",
            "kwargs": {"token": SECRET},
            "access": {"read": ["*"]},
        },
    ]
    config = folders["home"] / "proxy.yaml"
    config.write_text(yaml.safe_dump({"sources": sources}))
    with jupyterhub(folders["home"], config, USERS, [], user_servers=True) as running:
        yield running


def open_lab(browser, hub: Hub, user: str) -> StorageBrowser:
    """Log in through the hub's form; the hub starts the user's JupyterLab."""
    page = browser.context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"{hub.url}/user/{user}/lab**", timeout=180_000)
    storage = StorageBrowser(page)
    storage.start(page.url)
    return storage


@pytest.mark.parametrize(
    ("user", "sources", "writable"),
    [("alice", ["Everyone", "Home", "Team"], "Team"), ("bob", ["Everyone", "Home"], "Home")],
)
def test_each_users_panel_shows_and_writes_what_their_rules_allow(
    user, sources, writable, hub, folders
):
    with chromium_sync() as browser:
        lab = open_lab(browser, hub, user)
        lab.go()
        lab.wait_for_names(sources)
        readonly = lab.page.locator(f"{BROWSER} .jp-fsspec-proxy-readonly .jp-DirListing-itemText")
        assert readonly.all_inner_texts() == ["Everyone"]
        lab.go(writable)
        lab.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='new-directory'] button")
        lab.page.wait_for_selector(f"{BROWSER} .jp-DirListing-editor")
        lab.page.keyboard.press("Enter")
        target = folders["team"] if writable == "Team" else folders["homes"] / user
        wait_until(lambda: (target / "Untitled Folder").is_dir(), f"{user}'s new folder")

        # the drive logged in as the user, through the service's own OAuth
        service = f"{hub.url}/services/{SERVICE}/fsspec-proxy/"
        calls = [r for r in lab.responses if r.url.startswith(service)]
        assert calls and all("authorization" not in r.request.headers for r in calls)
        assert lab.responses_holding(SECRET, ACCESS_KEY) == []
        assert browser.outside(hub.url) == []
    for other in set(USERS) - {user}:  # Home is each user's own folder
        assert not (folders["homes"] / other / "Untitled Folder").exists()
