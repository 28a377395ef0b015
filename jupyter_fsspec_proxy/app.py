"""The ``FsspecProxy`` extension app and the ``jupyter fsspec-proxy`` command."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from jupyter_server.auth import IdentityProvider
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    Int,
    List,
    TraitError,
    Type,
    Unicode,
    default,
    validate,
)

from . import __version__, page_config, standalone_logs
from .access import check_rules
from .auth import HeaderTokenIdentityProvider, ProxyOnlyAuthorizer
from .config import ConfigError
from .handlers import routes
from .handlers.service import DisabledHandler, MetricsHandler
from .manager import SETTINGS_KEY, UNSECURED_MODES, ProxyManager, Settings

MODES = ("run", "dev", "private", "hub")
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
    classes = [*ExtensionApp.classes, ServerApp, IdentityProvider]  # for the aliases' help
    aliases = {
        **ExtensionApp.aliases,
        "ip": "ServerApp.ip",
        "port": "ServerApp.port",
        "token": "IdentityProvider.token",
        "proxy-config": "FsspecProxy.config_file",
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
        False,
        config=True,
        help="Allow config_admins to reload the config (api/reload) or replace it (api/config).",
    )
    config_admins = List(
        Unicode(),
        config=True,
        help="""With allow_reload: who may reload or replace the config, as access rules
        (user:NAME, group:NAME, service:NAME, admin for JupyterHub's admins, * for any
        user). Default: nobody in hub mode, ["*"] (whoever the server authenticates:
        its own user) elsewhere.""",
    )
    replicated = Bool(
        False,
        config=True,
        help="""This process is one of several replicas behind one balancer (say so
        whenever it is). A config posted to api/config is then refused (409: it would
        change this replica only; change the config file and reload or restart every
        replica), and the start is refused without the signing key and cookie secret
        that every replica must share (signing_key_file, ServerApp.cookie_secret_file).""",
    )
    metrics_access = List(
        Unicode(),
        default_value=["admin"],
        config=True,
        help="""Hub mode: who may read the Prometheus metrics at {base_url}metrics, as
        access rules (admin: JupyterHub's admins). Other modes follow Jupyter's
        ServerApp.authenticate_prometheus.""",
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
    app_npm_url = Unicode(
        "https://cdn.jsdelivr.net/npm/",
        config=True,
        help="""Where the app imports its JavaScript modules from (hyparquet, for the
        Parquet preview), as {app_npm_url}{name}@{version}/; point it at the
        static/npm/ folder of `jupyter fsspec-proxy offline` to run offline.""",
    )
    chunk_size = Int(MiB // 4, config=True, help="Bytes per chunk when streaming a file.")
    max_upload_size = Int(
        10 * 1024 * MiB, config=True, help="Largest accepted upload, in bytes (413 beyond)."
    )
    upload_timeout = Float(3600.0, config=True, help="Seconds allowed to receive one upload.")
    upload_idle_timeout = Float(
        120.0,
        config=True,
        help="""Seconds an upload may send nothing before it is cut off (408, nothing
        kept); also how long an upload waits for upload_memory before a 503, and how
        long an upload session (api/uploads) may wait for its next piece before it is
        aborted.""",
    )
    upload_memory = Int(
        128 * MiB,
        config=True,
        help="""Bytes that all uploads together may hold in memory (S3 parts being
        filled); an upload beyond it waits, then gets 503 with Retry-After.""",
    )
    readahead_memory = Int(
        64 * MiB,
        config=True,
        help="""Bytes that all api/ranges requests together may read ahead of what their
        clients have received; beyond it, ranges are read one at a time.""",
    )
    send_timeout = Float(
        120.0,
        config=True,
        help="""Seconds a client may take to accept the next chunk of an answer before
        its connection is closed (a client that stops reading holds memory).""",
    )
    backend_timeout = Float(
        60.0, config=True, help="Seconds one backend call may take before a 504."
    )
    max_upload_sessions = Int(
        64, config=True, help="Upload sessions open at once on this server (503 beyond)."
    )
    max_upload_sessions_per_user = Int(
        8, config=True, help="Upload sessions one user may have open at once (429 beyond)."
    )
    signing_key = Unicode(
        "",
        config=True,
        help="""The key (at least 16 bytes) that signs the URLs of api/sign; replicas
        behind one balancer need the same. Prefer signing_key_file: Jupyter's --debug
        log prints traits. Empty (and no file): a random key per process, so signed
        URLs stop working when the process ends and work on no other replica.""",
    )
    signing_key_file = Unicode(
        "", config=True, help="A file holding the signing key (see signing_key)."
    )
    signed_url_expiry = Float(
        300.0, config=True, help="Seconds a signed URL works when api/sign is not told."
    )
    max_signed_url_expiry = Float(
        3600.0, config=True, help="The longest a signed URL may work, in seconds (400 beyond)."
    )

    posted_source_roots = List(
        Unicode(),
        config=True,
        help="""With allow_reload: URL prefixes (s3://bucket/prefix, /srv/data) that the
        sources of a config posted to api/config must lie below. Empty: no source may
        be posted, only `sources: []`.""",
    )
    posted_source_kwargs = List(
        Unicode(),
        config=True,
        help="""Storage options (kwargs keys) a posted source may set, e.g. ["anon"].
        Empty: none, so posted sources cannot point a backend at another endpoint.""",
    )
    max_json_body = Int(
        16 * MiB, config=True, help="Largest body of an api/ request, in bytes (413 beyond)."
    )
    audit_log = Unicode(
        "",
        config=True,
        help="""File to append the audit log to: one JSON object per line per request
        that touches a source (also logged to the 'jupyter_fsspec_proxy.audit' logger).
        Empty: the logger only.""",
    )
    shared_token_user = Unicode(
        "",
        config=True,
        help="""The user name that access rules, {username} paths and the audit log
        give to requests authenticated by the server's own token or password, which
        identify no one. Empty: the operating-system user running the server.""",
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
        self.manager = self.manager_class(parent=self, log=self.log, settings=self._settings())
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
                f"a replica (c.FsspecProxy.replicated) needs what all replicas share: {unshared}"
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
        if not self.replicated:
            return ""
        if not (self.signing_key or self.signing_key_file):
            return "c.FsspecProxy.signing_key_file"
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

    def _settings(self) -> Settings:
        """The traits the manager applies, by the same names, frozen."""
        values = {name: getattr(self, name) for name in Settings.__dataclass_fields__}
        return Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @default("config_admins")
    def _nobody_in_a_hub(self) -> list[str]:
        return [] if self.mode == "hub" else ["*"]

    @validate("config_admins", "metrics_access")
    def _valid_rules(self, proposal: Any) -> Any:
        try:
            check_rules(proposal.value, f"c.FsspecProxy.{proposal.trait.name}")
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        return proposal.value

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
