"""The ``FsspecProxy`` extension app and the ``jupyter fsspec-proxy`` command."""

from __future__ import annotations

import asyncio
import os
import sys

from jupyter_server.auth import IdentityProvider
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import Enum, Type, Unicode, default
from traitlets.config import Config

from . import __version__, page_config, standalone_logs
from .auth import HeaderTokenIdentityProvider, ProxyOnlyAuthorizer
from .config import ConfigError
from .handlers import routes
from .handlers.service import DisabledHandler, MetricsHandler
from .manager import MODES, SETTINGS_KEY, UNSECURED_MODES, ProxyManager

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
CLOSE_TIMEOUT = 5  # seconds the sources may take to close when the server stops


USAGE = """Serve fsspec filesystems (S3, ...) over HTTP without handing out their credentials.

    jupyter fsspec-proxy [MODE] [--ip=127.0.0.1] [--port=8000] [--proxy-config=FILE]
    jupyter fsspec-proxy offline DIR     (Pyodide, PyScript and wheels for offline pages)

Modes:
    run      (default) Jupyter token auth; cross-origin only for allowed_origins
    dev      no auth, any origin, loopback only, the config file re-read on change
    private  as dev, and answers Private Network Access preflights
    hub      a JupyterHub-managed service, authenticated by the hub

The sources come from --proxy-config (YAML: sources with name, path, kwargs,
readonly, access), else FSSPEC_PROXY_CONFIG, else a default with a public S3
dataset and an in-memory Scratch. In run mode pass --token=... (or set
JUPYTER_TOKEN); clients send 'Authorization: token ...'. The proxy answers at
http://IP:PORT/fsspec-proxy/ and its app at /fsspec-proxy/app/. Every
FsspecProxy option: --help-all.
"""


class FsspecProxy(ExtensionApp):
    """Serve fsspec filesystems over HTTP without handing out their credentials."""

    name = "fsspec_proxy"
    description = USAGE
    version = __version__
    classes = [*ExtensionApp.classes, ProxyManager, ServerApp, IdentityProvider]  # for --help-all
    aliases = {
        **ExtensionApp.aliases,
        "ip": "ServerApp.ip",
        "port": "ServerApp.port",
        "token": "IdentityProvider.token",
        "proxy-config": "ProxyManager.config_file",
    }
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
        'private': as 'dev', and grants Private Network Access preflights. 'hub': a
        JupyterHub-managed service, authenticated by the hub.""",
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
    app_npm_url = Unicode(
        "https://cdn.jsdelivr.net/npm/",
        config=True,
        help="""Where the app imports its JavaScript modules from (hyparquet, for the
        Parquet preview), as {app_npm_url}{name}@{version}/; point it at the
        static/npm/ folder of `jupyter fsspec-proxy offline` to run offline.""",
    )

    drive_url = Unicode(
        config=True,
        help="""Where the Storage panel of this server's JupyterLab pages finds the
        proxy, e.g. a JupyterHub service's /services/fsspec-proxy/fsspec-proxy/ (page
        config fsspecProxyUrl). Empty: this server's own fsspec-proxy/. Default: the
        FSSPEC_PROXY_URL environment variable, which kernels read too.""",
    )
    manager_class = Type(
        default_value=ProxyManager,
        klass=ProxyManager,
        config=True,
        help="The class that owns the sources, their reloads and the origin policy.",
    )

    manager: ProxyManager
    #: Set by ``jupyter fsspec-proxy``: the server is the proxy's own, not shared.
    standalone = False

    @default("drive_url")
    def _drive_url_from_environment(self) -> str:
        return os.environ.get("FSSPEC_PROXY_URL", "")

    def initialize_settings(self) -> None:
        page_config.announce_drive_url(self.serverapp.web_app.settings, self.drive_url)
        self.manager = self.manager_class(
            parent=self, config=self._manager_config(), log=self.log, mode=self.mode
        )
        self.settings[SETTINGS_KEY] = self.manager
        if self.mode in UNSECURED_MODES and self.serverapp.ip not in LOOPBACK:
            self._disable(f"mode {self.mode!r} serves loopback only, not {self.serverapp.ip!r}")
            return
        if self.mode in UNSECURED_MODES:
            self.log.warning(
                "fsspec-proxy runs in %r mode: NO AUTHENTICATION, any origin may read and "
                "write every source. Use it for development on this machine only.",
                self.mode.upper(),
            )
        unshared = self._unshared_secret()
        if unshared:
            self._refuse_to_start(
                f"a replica (c.ProxyManager.replicated) needs what all replicas share: {unshared}"
            )
            return
        try:
            self.manager.open_audit_log()
        except ConfigError as exc:
            self._refuse_to_start(str(exc))
            return
        try:
            self.manager.load()
        except ConfigError as exc:
            if self.mode in UNSECURED_MODES:  # the watcher picks up the fixed file
                self.log.critical("No sources are served until the config is fixed: %s", exc)
            else:
                self._refuse_to_start(f"the config cannot be used: {exc}")
                return
        if self.mode in UNSECURED_MODES:
            self.manager.watch_config()
        if self.standalone:
            self._describe_standalone()

    def _unshared_secret(self) -> str:
        """The setting a replica lacks to sign and check what the others sign, if any."""
        if not self.manager.replicated:
            return ""
        if not (self.manager.signing_key or self.manager.signing_key_file):
            return "c.ProxyManager.signing_key_file"
        server = self.serverapp.config.get("ServerApp", {})
        if "cookie_secret" not in server and "cookie_secret_file" not in server:
            return "c.ServerApp.cookie_secret_file"
        return ""

    def _refuse_to_start(self, reason: str) -> None:
        """The standalone command stops, saying why; inside a shared server the proxy
        disables itself and the server lives on."""
        if self.standalone:
            sys.exit(f"jupyter fsspec-proxy: {reason}")
        self._disable(reason)

    def _disable(self, reason: str) -> None:
        """Serve nothing but 503 with ``reason``; a shared server lives on."""
        self.manager.disabled = reason
        self.log.critical("fsspec-proxy is DISABLED: %s", reason)

    def _describe_standalone(self) -> None:
        """Log what this server is: a file proxy, not a notebook server."""
        standalone_logs.install(self.serverapp, self.log, self.settings)
        names = ", ".join(map(repr, self.manager.registry.names())) or "none"
        self.log.info(
            "fsspec-proxy %s (mode %s) serves the sources %s at %sfsspec-proxy/ (its app: "
            "fsspec-proxy/app/). It runs no code: kernels, terminals and files are off.",
            __version__,
            self.mode,
            names,
            self.serverapp.connection_url,
        )

    def _manager_config(self) -> Config:
        """The config the manager reads: ``c.ProxyManager``, and the manager's options
        that deployments set as ``c.FsspecProxy.*`` before they moved (a warning
        says so; ``c.ProxyManager`` wins)."""
        # config_file was the proxy's before it moved (Jupyter's own, naming a .py or
        # .json config of the app, means nothing to an extension of a server).
        own = set(self.trait_names(config=True)) - {"config_file"}
        moved = {
            name: value
            for name, value in self.config.get("FsspecProxy", {}).items()
            if name not in own and name in self.manager_class.class_trait_names(config=True)
        }
        if not moved:
            return self.config
        for name in sorted(moved):
            self.log.warning("c.FsspecProxy.%s is now c.ProxyManager.%s: rename it", name, name)
        config = Config({"ProxyManager": moved})
        config.merge(self.config)
        return config

    def initialize_handlers(self) -> None:
        if self.manager.disabled:
            self.handlers.append(("fsspec-proxy/.*", DisabledHandler))
            return
        self.handlers.extend(routes(lite_dir=self.lite_dir))
        if self.mode == "hub":
            self.handlers.append(("metrics", MetricsHandler))

    async def stop_extension(self) -> None:
        """Close the sources; a backend that does not close in seconds is left behind,
        so that stopping (SIGTERM, a hub's shutdown) never hangs."""
        try:
            await asyncio.wait_for(self.manager.close(), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self.log.warning("Sources did not close within %d s; stopping anyway", CLOSE_TIMEOUT)


def main(argv: list[str] | None = None) -> None:
    """``jupyter fsspec-proxy [run|dev|private] [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "offline":
        from . import offline

        offline.main(args[1:])
        return
    mode = args.pop(0) if args and not args[0].startswith("-") else "run"
    if mode not in MODES:
        sys.exit(
            f"jupyter fsspec-proxy: unknown mode {mode!r}; the modes are {', '.join(MODES)} "
            "(and 'offline DIR')"
        )
    ip = _option(args, "ip") or STANDALONE_DEFAULTS["ip"]
    if mode in UNSECURED_MODES and ip not in LOOPBACK:
        sys.exit(f"jupyter fsspec-proxy: mode {mode!r} only listens on loopback, not {ip!r}")
    # An address that is taken is an error: moving to the next port would leave
    # clients talking to whatever holds this one.
    flags = [f"--FsspecProxy.mode={mode}", "--ServerApp.port_retries=0"]
    if mode == "hub":
        from . import hub

        flags += hub.hub_flags(args, _option)
        FsspecProxy.serverapp_config = hub.SERVER_CONFIG
    for name, value in STANDALONE_DEFAULTS.items():
        if _option(args, name) is None and not any(
            f.startswith(f"--ServerApp.{name}=") for f in flags
        ):
            flags.append(f"--ServerApp.{name}={value}")
    if mode in UNSECURED_MODES:
        flags += UNSECURED_FLAGS
    FsspecProxy.standalone = True
    FsspecProxy.launch_instance([*flags, *args])


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name=V``, ``--name V`` or ``--ServerApp.name=V`` in ``args``."""
    for index, arg in enumerate(args):
        key, eq, value = arg.partition("=")
        if key in (f"--{name}", f"--ServerApp.{name}"):
            if eq:
                return value
            return args[index + 1] if index + 1 < len(args) else ""
    return None
