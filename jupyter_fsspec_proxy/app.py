"""The ``FsspecProxy`` extension app and the ``jupyter fsspec-proxy`` command."""

from __future__ import annotations

import os
import sys

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode

from .auth import HeaderTokenIdentityProvider, ProxyOnlyAuthorizer
from .config import (
    DEFAULT_CONFIG,
    ConfigError,
    SourceSpec,
    load_file,
    merge,
    parse_sources,
    parse_yaml,
)
from .handlers import routes
from .handlers.service import NotFoundHandler
from .handlers.site import SiteHandler
from .handlers.webapp import WEBAPP, AppHandler
from .sources import SourceRegistry

MODES = ("run", "dev", "private")
# Standalone defaults like the prototype's, unless given on the command line.
STANDALONE_DEFAULTS = {"ip": "127.0.0.1", "port": "8000"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Server settings of the unsecured modes: no token, no XSRF (there is no
# session to forge), and listening on loopback only.
UNSECURED_FLAGS = [
    "--IdentityProvider.token=",
    "--ServerApp.password=",
    "--ServerApp.disable_check_xsrf=True",
]
MiB = 1024 * 1024


class FsspecProxy(ExtensionApp):
    """Serve fsspec filesystems over HTTP without handing out their credentials."""

    name = "fsspec_proxy"
    description = __doc__
    default_url = "/fsspec-proxy/app/"
    load_other_extensions = False
    # Standalone only: the proxy's routes are the server's only authorized ones,
    # so no code runs and the server may run as root like any file server.
    serverapp_config = {
        "open_browser": False,
        "allow_root": True,
        "authorizer_class": ProxyOnlyAuthorizer,
        "identity_provider_class": HeaderTokenIdentityProvider,
    }

    mode = Enum(
        MODES,
        default_value="run",
        config=True,
        help="""'run': Jupyter auth, cross-origin only for allowed_origins. 'dev':
        loopback only, no auth, any origin, requests logged, config file watched.
        'private': as 'dev', and grants Private Network Access preflights.""",
    )
    config_file = Unicode(
        "",
        config=True,
        help="""YAML file of sources (the prototype's format). Empty: the
        FSSPEC_PROXY_CONFIG environment variable, else the packaged default
        when `sources` is empty too.""",
    )
    sources = List(
        Dict(),
        config=True,
        help="""Sources as dicts with name, path, kwargs, readonly; they replace
        file sources of the same name.""",
    )
    allow_reload = Bool(
        False, config=True, help="Allow authenticated users to reload or replace the config."
    )
    allowed_origins = List(
        Unicode(),
        config=True,
        help="""Origins (scheme://host:port) allowed to call the proxy cross-origin.
        '*' allows any origin, without credentials.""",
    )
    lite_dir = Unicode(
        "",
        config=True,
        help="""A built JupyterLite site (`jupyter lite build --output-dir ...`) to
        serve at {base_url}fsspec-proxy/lite/, so its kernels share this
        server's origin, login and proxy.""",
    )
    app_pyscript_url = Unicode(
        "https://cdn.jsdelivr.net/npm/@pyscript/core@0.7.31/dist/",
        config=True,
        help="""Where the app at fsspec-proxy/app/ loads PyScript (core.js, core.css)
        from; point it at a local copy of the npm @pyscript/core dist/ to run offline.""",
    )
    app_interpreter_url = Unicode(
        "",
        config=True,
        help="""The pyodide.mjs the app runs on; empty: PyScript's default. Point it at
        a local copy of the npm pyodide package to run offline.""",
    )
    chunk_size = Int(MiB, config=True, help="Bytes per chunk when streaming a file.")
    max_upload_size = Int(
        10 * 1024 * MiB, config=True, help="Largest accepted upload, in bytes (413 beyond)."
    )
    upload_timeout = Float(3600.0, config=True, help="Seconds allowed to receive one upload.")
    backend_timeout = Float(
        60.0, config=True, help="Seconds one backend call may take before a 504."
    )

    registry: SourceRegistry

    def initialize_settings(self) -> None:
        if self.mode != "run":
            if self.serverapp.ip not in LOOPBACK:
                self.log.critical(
                    "Mode %r only listens on loopback, not %r", self.mode, self.serverapp.ip
                )
                sys.exit(1)
            self.log.warning(
                "fsspec-proxy runs in %r mode: NO AUTHENTICATION, any origin may read and "
                "write every source. Use it for development on this machine only.",
                self.mode.upper(),
            )
        self.registry = SourceRegistry(self.log, self.backend_timeout)
        try:
            self.reload()
        except ConfigError as exc:
            self.log.critical("No sources are served: %s", exc)
        if self.mode != "run" and self.config_path:
            self._watch_config(self.config_path)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes)
        if self.lite_dir:
            site = {"path": self.lite_dir, "default_filename": "index.html"}
            self.handlers.append(("fsspec-proxy/lite/(.*)", SiteHandler, site))
        webapp = {"path": str(WEBAPP)}
        self.handlers.append(("fsspec-proxy/app/(config.json)?", AppHandler))
        self.handlers.append(("fsspec-proxy/app/(.+)", SiteHandler, webapp))
        self.handlers.append(("fsspec-proxy/.*", NotFoundHandler))  # last: the rest

    @property
    def config_path(self) -> str | None:
        if self.config_file:
            return self.config_file
        if os.environ.get("FSSPEC_PROXY_CONFIG"):
            return os.environ["FSSPEC_PROXY_CONFIG"]
        return None if self.sources else str(DEFAULT_CONFIG)

    def _trait_specs(self) -> list[SourceSpec]:
        return parse_sources(self.sources, "c.FsspecProxy.sources")

    def reload(self) -> None:
        """Re-read the config file and replace the sources; raises ConfigError."""
        path = self.config_path
        self.registry.replace(merge(load_file(path) if path else [], self._trait_specs()))

    def apply_config_text(self, text: str | bytes) -> None:
        """Serve the sources of a posted document in place of the config file's."""
        self.registry.replace(merge(parse_yaml(text, "posted config"), self._trait_specs()))

    def allows_origin(self, origin: str) -> bool:
        return self.mode != "run" or "*" in self.allowed_origins or origin in self.allowed_origins

    def grants_credentials(self) -> bool:
        """Cookies may cross origins only for explicitly listed origins."""
        return self.mode == "run" and "*" not in self.allowed_origins

    def _watch_config(self, path: str) -> None:
        state = {"mtime": _mtime(path)}

        def check() -> None:
            mtime = _mtime(path)
            if mtime == state["mtime"]:
                return
            state["mtime"] = mtime
            try:
                self.reload()
                self.log.info("Reloaded %s", path)
            except ConfigError as exc:
                self.log.error("Keeping the previous sources: %s", exc)

        PeriodicCallback(check, 1000).start()


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def main(argv: list[str] | None = None) -> None:
    """``jupyter fsspec-proxy [run|dev|private] [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    mode = args.pop(0) if args and args[0] in MODES else "run"
    flags = [f"--FsspecProxy.mode={mode}"]
    for name, value in STANDALONE_DEFAULTS.items():
        if not any(arg.split("=")[0] in (f"--{name}", f"--ServerApp.{name}") for arg in args):
            flags.append(f"--ServerApp.{name}={value}")
    if mode != "run":
        flags += UNSECURED_FLAGS
    FsspecProxy.launch_instance([*flags, *args])
