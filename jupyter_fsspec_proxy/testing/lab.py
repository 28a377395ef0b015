"""JupyterLab from PyPI with the Storage drive, as a subprocess, and the moves of a
user in its file browser (Playwright's synchronous API, one page per test module)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .browser import WITHIN
from .processes import free_port, stop, wait_for_port

LAB_TOKEN = "lab-test-token"
BROWSER = "#fsspec-proxy-browser"
ROW = f"{BROWSER} .jp-DirListing-item"
DIALOG = ".jp-Dialog"
# Settings of every test server: no "Jupyter news?" notification over the page.
USER_SETTINGS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Replaces pytest-jupyter's autouse event loop in the modules that import it:
    it would close the loop of Playwright's synchronous API, which those modules
    share between tests. Their servers run as processes."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """Replaces pytest-jupyter's autouse cleanup, which needs that loop."""


@dataclass
class Jupyter:
    url: str  # http://127.0.0.1:<port>/, ending in "/"
    process: subprocess.Popen
    log: Path


def quiet_settings(folder: Path) -> Path:
    """A JupyterLab user-settings folder with ``USER_SETTINGS``."""
    for plugin, values in USER_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@contextmanager
def jupyter_app(home: Path, *options: str, module: str = "jupyterlab") -> Iterator[Jupyter]:
    """``python -m <module>`` (JupyterLab, or ``jupyter_server``) on 127.0.0.1 with
    token ``LAB_TOKEN``, its state under ``home``; the proxy extension loads itself."""
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(quiet_settings(home / "settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    env.pop("FSSPEC_PROXY_URL", None)
    (home / "root").mkdir(exist_ok=True)
    command = [sys.executable, "-m", module, "--no-browser", "--allow-root"]
    command += [f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0"]
    command += [f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={home / 'root'}"]
    log = home / f"{module}-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *options], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home
        )
    try:
        try:
            wait_for_port(port, process, module, timeout=60)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log.read_text()[-3000:]}") from None
        yield Jupyter(f"http://127.0.0.1:{port}/", process, log)
    finally:
        stop(process)


class StorageBrowser:
    """A user at JupyterLab's Storage panel: what they click, type and see."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.responses: list[Response] = []
        page.on("response", lambda response: self.responses.append(response))

    def start(self, url: str) -> None:
        """Open JupyterLab at ``url`` and wait until its layout is restored."""
        self.page.goto(url)
        self.page.wait_for_function("window.jupyterapp?.shell", timeout=60_000)
        # a promise that never settles would hold the test until pytest's timeout
        self.page.evaluate(
            f"() => ({WITHIN})(window.jupyterapp.restored, 60, 'JupyterLab restoring its layout')"
        )

    def reset(self) -> None:
        """No dialog and no open document left by a test before (unsaved changes
        discarded)."""
        for _ in range(50):
            while self.page.locator(DIALOG).count():
                button = self.page.locator(f"{DIALOG} button", has_text=re.compile("Discard|Don"))
                if button.count():
                    button.first.click()
                else:
                    self.page.keyboard.press("Escape")
                self.page.wait_for_timeout(100)
            documents = "[...window.jupyterapp.shell.widgets('main')].filter(w => w.context)"
            if not self.page.evaluate(f"{documents}.length"):
                return
            self.page.evaluate("void window.jupyterapp.commands.execute('application:close-all')")
            self.page.wait_for_timeout(200)
        titles = self.page.evaluate(f"{documents}.map(w => w.title.label)")
        raise AssertionError(f"documents left open: {titles}")

    def show(self) -> None:
        """Click the Storage tab of the left sidebar (if its panel is not open)."""
        if not self.page.locator(BROWSER).is_visible():
            self.page.click(".jp-SideBar.jp-mod-left [data-id='fsspec-proxy-browser']")
        self.page.wait_for_selector(f"{BROWSER} .jp-DirListing-content")

    def go(self, *folders: str) -> None:
        """From the root, double-click through ``folders``."""
        self.show()
        self.page.click(f"{BROWSER} .jp-BreadCrumbs-home")
        self.wait_for_path("")
        for depth, folder in enumerate(folders, 1):
            self.row(folder).dblclick()
            self.wait_for_path("/".join(folders[:depth]))

    def wait_for_path(self, path: str) -> None:
        """Until the panel shows the folder ``path`` of the drive."""
        self.page.wait_for_function(
            "path => [...window.jupyterapp.shell.widgets('left')].some(w => "
            "w.id === 'fsspec-proxy-browser' && w.model.path === 'Storage:' + path)",
            arg=path,
        )

    def row(self, name: str):
        """The row of ``name`` in the folder shown."""
        text = self.page.locator(
            ".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")
        )
        return self.page.locator(ROW).filter(has=text)

    def wait_for_row(self, name: str) -> None:
        self.row(name).wait_for()

    def names(self) -> list[str]:
        return self.page.locator(f"{ROW} .jp-DirListing-itemText").all_inner_texts()

    def wait_for_names(self, expected: list[str]) -> None:
        self.page.wait_for_function(
            "expected => JSON.stringify([...document.querySelectorAll("
            "'#fsspec-proxy-browser .jp-DirListing-item .jp-DirListing-itemText')]"
            ".map(e => e.textContent)) === JSON.stringify(expected)",
            arg=expected,
        )

    def refresh(self) -> None:
        self.page.click(f"{BROWSER} .jp-Toolbar-item[data-jp-item-name='refresh'] button")

    def menu_item(self, label: str) -> None:
        """Click ``label`` in the context menu shown."""
        self.page.locator(".lm-Menu-itemLabel").get_by_text(label, exact=True).click()

    def dialog_text(self) -> str:
        """The text of the dialog that opens now."""
        return self.page.locator(DIALOG).inner_text(timeout=20_000)

    def press_dialog(self, label: str | re.Pattern) -> None:
        """Press ``label`` in the dialog shown, and wait until that dialog is gone."""
        dialog = self.page.locator(DIALOG).element_handle(timeout=20_000)
        self.page.locator(f"{DIALOG} button", has_text=label).click()
        dialog.wait_for_element_state("hidden")

    def current_widget(self, script: str):
        """``script`` evaluated with ``widget``, the main area's current widget."""
        return self.page.evaluate(
            f"() => {{ const widget = window.jupyterapp.shell.currentWidget; return {script}; }}"
        )

    def wait_for_document(self, path: str) -> None:
        """Until the main area's current widget is the document ``path`` of the drive.
        JupyterLab makes a widget it opens current when its activation focuses it, in
        an animation frame after the widget is attached: a document's node can be on
        the page while the launcher or the document before is still current."""
        expected = f"Storage:{path}"
        try:
            self.page.wait_for_function(
                "path => window.jupyterapp.shell.currentWidget?.context?.path === path",
                arg=expected,
            )
        except PlaywrightTimeout:
            current = self.current_widget("widget?.context?.path ?? widget?.id")
            raise AssertionError(f"the current widget is {current!r}, not {expected}") from None

    def edit(self, name: str, shown: str, typed: str) -> None:
        """Open ``name`` of the folder shown in the editor, once it shows ``shown``
        type ``typed`` at its end, and save (Ctrl+S)."""
        self.row(name).dblclick()
        self.page.wait_for_selector(f".jp-FileEditor .cm-content >> text={shown}")
        self.page.click(".jp-FileEditor .cm-content")
        self.page.keyboard.press("Control+End")
        self.page.keyboard.type(typed)
        self.page.keyboard.press("Control+s")

    def responses_holding(self, *secrets: str) -> list[str]:
        """The URLs of the responses whose headers or body hold one of ``secrets``."""
        return [
            url
            for url, headers, body in self.received()
            if any(secret in headers or secret.encode() in body for secret in secrets)
        ]

    def received(self) -> list[tuple[str, str, bytes]]:
        """(url, headers, body) of every response the page received."""
        found = []
        for response in self.responses:
            try:
                body = response.body()
            except Exception:  # redirects and aborted requests have no body
                body = b""
            found.append((response.url, json.dumps(response.all_headers()), body))
        return found
