"""Configured sources: their filesystems, roots and availability."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.core import split_protocol

from .access import USERNAME
from .backends import Backend, backend_kind
from .budget import ByteBudget
from .config import SourceSpec
from .errors import NoSuchSource, scrub, secret_strings


@dataclass(frozen=True)
class Source:
    """A source as served: its backend, or the reason it is unavailable."""

    spec: SourceSpec
    protocol: str
    root: str
    backend: Backend | None
    reason: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def readonly(self) -> bool:
        """Configured so, or a store the proxy can only read (plain HTTP)."""
        return self.spec.readonly or (self.backend is not None and not self.backend.writable)

    def as_json(self) -> dict[str, Any]:
        """The public view of the source: never its storage options."""
        return {
            "name": self.name,
            "protocol": self.protocol,
            "readonly": self.readonly,
            "available": self.backend is not None,
            "reason": self.reason,
        }

    def for_user(self, segment: str) -> Source:
        """This per-user source with ``{username}`` replaced by an escaped user name."""
        root = self.root.replace(USERNAME, segment)
        backend = self.backend.with_root(root) if self.backend is not None else None
        return dataclasses.replace(self, root=root, backend=backend)

    @property
    def _prefix(self) -> str:
        return self.root if not self.root or self.root.endswith("/") else self.root + "/"

    def full_path(self, relpath: str) -> str:
        """The backend path of a validated source-relative path. Local backends
        confine it when they open it (see :mod:`.confined`)."""
        return self._prefix + relpath if relpath else self.root

    def relative(self, backend_path: str) -> str:
        """The source-relative form of a path returned by the backend."""
        path = self.backend.fs._strip_protocol(backend_path) if self.backend else backend_path
        if path.rstrip("/") == self.root.rstrip("/"):
            return ""
        return path[len(self._prefix) :] if path.startswith(self._prefix) else path


@dataclass(frozen=True)
class SourcePath:
    """A path as a request uses it: its source (the caller's own view, for a per-user
    source), the path inside the source, the backend's full path, and the name
    clients know it by (``<source>/<path>``)."""

    source: Source
    relpath: str
    full: str
    name: str

    @classmethod
    def of(cls, source: Source, relpath: str) -> SourcePath:
        name = f"{source.name}/{relpath}" if relpath else source.name
        return cls(source, relpath, source.full_path(relpath), name)

    @property
    def backend(self) -> Backend:
        assert self.source.backend is not None  # unavailable sources are refused first
        return self.source.backend

    @property
    def is_root(self) -> bool:
        return not self.relpath


def open_source(
    spec: SourceSpec, timeout: float, log: logging.Logger, upload_budget: ByteBudget | None = None
) -> Source:
    """Instantiate a source's filesystem; failures make it unavailable, not fatal."""
    protocol = split_protocol(spec.path)[0] or "file"
    secrets = secret_strings(spec.kwargs)
    try:
        cls = fsspec.get_filesystem_class(protocol)
        kind = backend_kind(protocol, cls)
        fs = kind.open_filesystem(cls, spec.kwargs)
        root = kind.root_of(cls, spec.path)
    except Exception as exc:  # any backend may fail to start in its own way
        reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
        log.warning("Source %r is unavailable: %s", spec.name, reason)
        return Source(spec, protocol, "", None, reason)
    log.info("Source %r serves %s://%s", spec.name, protocol, root)
    backend = kind(fs, timeout, secrets, root, spec.name, upload_budget)
    return Source(spec, protocol, root, backend)


class SourceSet:
    """The sources of one configuration.

    Requests hold the set that was in force when they began and let go of it when
    they end. A set that a reload replaced closes its backends once the last
    request holding it has ended, never under one still using it.
    """

    def __init__(self, sources: dict[str, Source]) -> None:
        self._sources = sources
        self._per_user: dict[tuple[str, str], Source] = {}
        self._holders = 0
        self._retired = False
        self.closed: asyncio.Future[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def lookup(self, name: str) -> Source:
        """The source of that name, available or not."""
        source = self._sources.get(name)
        if source is None:
            raise NoSuchSource(f"No source named {name!r}")
        return source

    def for_user(self, source: Source, segment: str) -> Source:
        """A per-user source's view for one user, made once."""
        key = (source.name, segment)
        if key not in self._per_user:
            self._per_user[key] = source.for_user(segment)
        return self._per_user[key]

    def all(self) -> list[Source]:
        return list(self._sources.values())

    @property
    def secrets(self) -> frozenset[str]:
        found: set[str] = set()
        for source in self._sources.values():
            found |= secret_strings(source.spec.kwargs)
        return frozenset(found)

    def hold(self) -> SourceSet:
        self._holders += 1
        return self

    @property
    def unused(self) -> bool:
        return self._holders == 0

    def let_go(self) -> None:
        self._holders -= 1
        if self._retired and self.unused:
            self._close()

    def retire(self) -> asyncio.Future[None]:
        """Close once no request holds this set any more; the future says when."""
        self._retired = True
        if self.unused:
            self._close()
        if self.closed is None:
            self.closed = asyncio.get_running_loop().create_future()
        return self.closed

    def _close(self) -> None:
        if self.closed is None:
            self.closed = asyncio.get_running_loop().create_future()
        closed = self.closed
        if not closed.done() and self._closing is None:
            self._closing = asyncio.ensure_future(close_all(self._sources.values()))
            self._closing.add_done_callback(lambda _: closed.done() or closed.set_result(None))


class SourceRegistry:
    """The sources in force, and those replaced but still used by requests."""

    def __init__(
        self, log: logging.Logger, timeout: float, upload_budget: ByteBudget | None = None
    ) -> None:
        self.log = log
        self.timeout = timeout
        self.upload_budget = upload_budget
        self.current = SourceSet({})
        self._live: set[SourceSet] = {self.current}

    def _build(self, specs: Iterable[SourceSpec]) -> SourceSet:
        budget = self.upload_budget
        return SourceSet({s.name: open_source(s, self.timeout, self.log, budget) for s in specs})

    def replace(self, specs: Iterable[SourceSpec]) -> None:
        """Build the sources (at start, before the loop serves anything)."""
        self.current = self._build(specs)
        self._live = {self.current}

    async def replace_async(self, specs: Iterable[SourceSpec]) -> None:
        """Build the new sources in a thread (a backend may block while it starts) and
        put them in force at once; the old ones close when their last request ends."""
        specs = list(specs)
        built = await asyncio.to_thread(self._build, specs)
        old, self.current = self.current, built
        self._live.add(built)
        closed = old.retire()
        closed.add_done_callback(lambda _: self._live.discard(old))
        if old.unused:  # closing now: done when this returns
            await closed

    async def close(self) -> None:
        """Close every set now: the server is stopping."""
        live, self._live = self._live, set()
        await close_all(source for sources in live for source in sources.all())

    def hold(self) -> SourceSet:
        """The set in force, held until :meth:`SourceSet.let_go`."""
        return self.current.hold()

    def names(self) -> list[str]:
        """The names of the sources in force."""
        return [source.name for source in self.current.all()]

    @property
    def secrets(self) -> frozenset[str]:
        """All secrets of all sources still open, to scrub from any outgoing text."""
        return frozenset().union(*(sources.secrets for sources in self._live))


async def close_all(sources: Iterable[Source]) -> None:
    for source in sources:
        if source.backend is not None:
            try:
                await source.backend.close()
            except Exception as exc:  # one failure must not keep the others open
                logging.getLogger(__name__).warning(
                    "Closing source %r failed: %s", source.name, type(exc).__name__
                )
