"""The proxy's state and policy, owned by one object that handlers reach through
the tornado settings: sources, reloads, config watching, origins and limits."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

from tornado.ioloop import PeriodicCallback
from traitlets import Instance, Unicode
from traitlets.config import LoggingConfigurable

from .access import Caller, matches, user_segment
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
MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The operator's choices that the manager applies (from ``FsspecProxy`` traits)."""

    mode: str = "run"
    config_file: str = ""
    sources: tuple[dict[str, Any], ...] = ()
    allow_reload: bool = False
    replicated: bool = False
    config_admins: tuple[str, ...] = ("*",)
    metrics_access: tuple[str, ...] = ("admin",)
    posted_source_roots: tuple[str, ...] = ()
    posted_source_kwargs: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    chunk_size: int = MiB // 4
    max_upload_size: int = 10 * 1024 * MiB
    max_json_body: int = 16 * MiB
    upload_timeout: float = 3600.0
    upload_idle_timeout: float = 120.0
    upload_memory: int = 128 * MiB
    readahead_memory: int = 64 * MiB
    send_timeout: float = 120.0
    backend_timeout: float = 60.0
    audit_log: str = ""
    shared_token_user: str = ""
    max_upload_sessions: int = 64
    max_upload_sessions_per_user: int = 8
    signing_key: str = ""
    signing_key_file: str = ""
    signed_url_expiry: float = 300.0
    max_signed_url_expiry: float = 3600.0


class ProxyManager(LoggingConfigurable):
    """Sources in force, how they change, and who may call the proxy from where.

    Replace it with ``c.FsspecProxy.manager_class`` to change that policy.
    """

    settings = Instance(Settings, args=())
    disabled = Unicode(
        "", help="Why the proxy serves nothing (empty: it is enabled); set at start."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        settings = self.settings
        #: what uploads (S3 parts being filled) and batched read-ahead may hold in memory
        self.upload_budget = ByteBudget(settings.upload_memory, settings.upload_idle_timeout)
        self.readahead_budget = ByteBudget(settings.readahead_memory, 0)
        self.registry = SourceRegistry(self.log, settings.backend_timeout, self.upload_budget)
        self.audit = AuditLog()  # the file, if any, opens in load()
        #: who a server's own token or password stands for (it names no one)
        self.shared_token_caller = Caller(self.settings.shared_token_user or getpass.getuser())
        self.uploads = UploadSessions(
            self.settings.upload_idle_timeout,
            self.settings.max_upload_sessions,
            self.settings.max_upload_sessions_per_user,
        )
        #: until load() reads the configured key: a random one
        self.signer = UrlSigner(signing_key("", ""))
        self._watcher: PeriodicCallback | None = None

    # -- sources -----------------------------------------------------------------

    @property
    def config_path(self) -> str | None:
        """The config file in force: the trait, then FSSPEC_PROXY_CONFIG, then the
        packaged default unless trait sources are given."""
        if self.settings.config_file:
            return self.settings.config_file
        if os.environ.get("FSSPEC_PROXY_CONFIG"):
            return os.environ["FSSPEC_PROXY_CONFIG"]
        return None if self.settings.sources else str(DEFAULT_CONFIG)

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
        return parse_sources(self.settings.sources, "c.FsspecProxy.sources")

    def _file_specs(self) -> list[SourceSpec]:
        path = self.config_path
        return merge(load_file(path) if path else [], self._trait_specs())

    def open_audit_log(self) -> None:
        """Open ``audit_log`` at start; ConfigError says why it cannot be."""
        self.audit = AuditLog(self.settings.audit_log)

    def load(self) -> None:
        """Build the sources and read the signing key at start; raises ConfigError."""
        self.registry.replace(self._file_specs())
        self.signer = UrlSigner(
            signing_key(self.settings.signing_key, self.settings.signing_key_file)
        )

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
            self.settings.posted_source_roots,
            self.settings.posted_source_kwargs,
            self.config_path or "",
            self._file_specs(),
            poster,
        )
        await self.registry.replace_async(merge(specs, self._trait_specs()))

    def may_reconfigure(self, caller: Caller) -> bool:
        """Whether ``caller`` may reload or replace the config (``config_admins``)."""
        return matches(self.settings.config_admins, caller)

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
        origins = self.settings.allowed_origins
        return self.unsecured or "*" in origins or origin in origins

    def grants_credentials(self) -> bool:
        """Cookies may cross origins only for explicitly listed origins."""
        return not self.unsecured and "*" not in self.settings.allowed_origins

    @property
    def unsecured(self) -> bool:
        return self.settings.mode in UNSECURED_MODES


def _visible(source: Source, caller: Caller) -> bool:
    """Whether ``source`` exists for ``caller``: its rules let them read it, and a
    per-user source has a root for users only."""
    return caller.may_use(source.spec.access) and (caller.is_user or not source.spec.per_user)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
