"""The proxy's state and policy, owned by one object that handlers reach through
the tornado settings: sources, reloads, config watching, origins and limits."""

from __future__ import annotations

import getpass
import os
from typing import Any

from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from .access import Caller, check_rules, matches, user_segment
from .audit import AuditLog
from .budget import ByteBudget
from .config import DEFAULT_CONFIG, ConfigError, SourceSpec, load_file, merge, parse_sources
from .errors import NoSuchSource, SourceUnavailable
from .posted import check_posted, parse_posted
from .signing import UrlSigner, signing_key
from .sources import Source, SourceRegistry, SourceSet
from .upload_sessions import UploadSessions

SETTINGS_KEY = "fsspec_proxy_manager"
UNSECURED_MODES = ("dev", "private")  # no auth, any origin, loopback only
MODES = ("run", "dev", "private", "hub")
MiB = 1024 * 1024


class ProxyManager(LoggingConfigurable):
    """Sources in force, how they change, and who may call the proxy from where.

    Its options are ``c.ProxyManager.*``; replace it with
    ``c.FsspecProxy.manager_class`` to change that policy.
    """

    mode = Enum(MODES, default_value="run", help="The extension's mode (set by it).")
    disabled = Unicode(
        "", help="Why the proxy serves nothing (empty: it is enabled); set at start."
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
    chunk_size = Int(MiB, config=True, help="Bytes per chunk when streaming a file.")
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

    @default("config_admins")
    def _nobody_in_a_hub(self) -> list[str]:
        return [] if self.mode == "hub" else ["*"]

    @validate("config_admins", "metrics_access")
    def _valid_rules(self, proposal: Any) -> Any:
        try:
            check_rules(proposal.value, f"c.ProxyManager.{proposal.trait.name}")
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        return proposal.value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: what uploads (S3 parts being filled) and batched read-ahead may hold in memory
        self.upload_budget = ByteBudget(self.upload_memory, self.upload_idle_timeout)
        self.readahead_budget = ByteBudget(self.readahead_memory, 0)
        self.registry = SourceRegistry(self.log, self.backend_timeout, self.upload_budget)
        self.audit = AuditLog()  # the file, if any, opens in load()
        #: who a server's own token or password stands for (it names no one)
        self.shared_token_caller = Caller(self.shared_token_user or getpass.getuser())
        self.uploads = UploadSessions(
            self.upload_idle_timeout,
            self.max_upload_sessions,
            self.max_upload_sessions_per_user,
        )
        #: until load() reads the configured key: a random one
        self.signer = UrlSigner(signing_key("", ""))
        self._watcher: PeriodicCallback | None = None

    # -- sources -----------------------------------------------------------------

    @property
    def config_path(self) -> str | None:
        """The config file in force: the trait, then FSSPEC_PROXY_CONFIG, then the
        packaged default unless trait sources are given."""
        if self.config_file:
            return self.config_file
        if os.environ.get("FSSPEC_PROXY_CONFIG"):
            return os.environ["FSSPEC_PROXY_CONFIG"]
        return None if self.sources else str(DEFAULT_CONFIG)

    def source(
        self, name: str, caller: Caller, write: bool = False, within: SourceSet | None = None
    ) -> Source:
        """The source ``name`` as ``caller`` may use it, for reading or writing, from
        the set ``within`` (a request's own; else the one in force).

        A source the caller may not read answers exactly like one that does not
        exist, so names do not leak; a per-user source is the caller's own view.
        """
        sources = within or self.registry.current
        source = sources.lookup(name)
        access = source.spec.access
        if not _visible(source, caller):
            raise NoSuchSource(f"No source named {name!r}")
        if write and source.readonly:
            raise PermissionError(f"Source {name!r} is readonly")
        if write and access is not None and not access.may_write(caller):
            raise PermissionError(f"User {caller.name!r} may read {name!r} but not write to it")
        if source.backend is None:
            raise SourceUnavailable(f"Source {name!r} is unavailable: {source.reason}")
        if source.spec.per_user:
            source = sources.for_user(source, user_segment(caller.name))
        return source

    def sources_for(self, caller: Caller) -> list[dict[str, Any]]:
        """The sources ``caller`` may read, each with whether they may write to it."""
        listing = []
        for source in self.registry.current.all():
            access = source.spec.access
            if _visible(source, caller):
                may_write = access is None or access.may_write(caller)
                listing.append({**source.as_json(), "writable": may_write and not source.readonly})
        return listing

    def _trait_specs(self) -> list[SourceSpec]:
        return parse_sources(self.sources, "c.ProxyManager.sources")

    def _file_specs(self) -> list[SourceSpec]:
        path = self.config_path
        return merge(load_file(path) if path else [], self._trait_specs())

    def open_audit_log(self) -> None:
        """Open ``audit_log`` at start; ConfigError says why it cannot be."""
        self.audit = AuditLog(self.audit_log)

    def load(self) -> None:
        """Build the sources and read the signing key at start; raises ConfigError."""
        self.registry.replace(self._file_specs())
        self.signer = UrlSigner(signing_key(self.signing_key, self.signing_key_file))

    async def reload(self) -> None:
        """Re-read the config file and replace the sources; raises ConfigError."""
        await self.registry.replace_async(self._file_specs())

    async def apply_posted(self, text: bytes, poster: Caller) -> None:
        """Serve the sources of a posted document in place of the config file's.
        Posted sources may only lie below ``posted_source_roots``, and never reach
        data that the configured rules deny the ``poster``."""
        specs = parse_posted(text)
        check_posted(
            specs,
            self.posted_source_roots,
            self.posted_source_kwargs,
            self.config_path or "",
            self._file_specs(),
            poster,
        )
        await self.registry.replace_async(merge(specs, self._trait_specs()))

    def may_reconfigure(self, caller: Caller) -> bool:
        """Whether ``caller`` may reload or replace the config (``config_admins``)."""
        return matches(self.config_admins, caller)

    def watch_config(self) -> None:
        """Reload whenever the config file changes (the unsecured modes)."""
        path = self.config_path
        if not path:
            return
        state = {"mtime": _mtime(path)}

        async def check() -> None:
            mtime = _mtime(path)
            if mtime == state["mtime"]:
                return
            state["mtime"] = mtime
            try:
                await self.reload()
                self.log.info("Reloaded %s", path)
            except ConfigError as exc:
                self.log.error("Keeping the previous sources: %s", exc)

        self._watcher = PeriodicCallback(check, 1000)
        self._watcher.start()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.uploads.close()
        await self.registry.close()
        self.audit.close()

    # -- origins -------------------------------------------------------------------

    def allows_origin(self, origin: str) -> bool:
        origins = self.allowed_origins
        return self.unsecured or "*" in origins or origin in origins

    def grants_credentials(self) -> bool:
        """Cookies may cross origins only for explicitly listed origins."""
        return not self.unsecured and "*" not in self.allowed_origins

    @property
    def unsecured(self) -> bool:
        return self.mode in UNSECURED_MODES


def _visible(source: Source, caller: Caller) -> bool:
    """Whether ``source`` exists for ``caller``: its rules let them read it, and a
    per-user source has a root for users only."""
    return caller.may_use(source.spec.access) and (caller.is_user or not source.spec.per_user)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
