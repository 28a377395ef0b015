"""Configured sources: their filesystems, roots and availability."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.asyn import AsyncFileSystem
from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem

from .access import USERNAME
from .backend import Backend
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
        return self.spec.readonly

    def describe(self) -> dict[str, Any]:
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


def open_source(spec: SourceSpec, timeout: float, log: logging.Logger) -> Source:
    """Instantiate a source's filesystem; failures make it unavailable, not fatal."""
    protocol = split_protocol(spec.path)[0] or "file"
    secrets = secret_strings(spec.kwargs)
    try:
        cls = fsspec.get_filesystem_class(protocol)
        options = dict(spec.kwargs, skip_instance_cache=True)
        if issubclass(cls, AsyncFileSystem) and cls.async_impl:
            options["asynchronous"] = True
        fs = cls(**options)
        root = cls._strip_protocol(spec.path)
        if isinstance(fs, LocalFileSystem):
            root = os.path.realpath(root)
    except Exception as exc:  # any backend may fail to start in its own way
        reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
        log.warning("Source %r is unavailable: %s", spec.name, reason)
        return Source(spec, protocol, "", None, reason)
    log.info("Source %r serves %s://%s", spec.name, protocol, root)
    backend = Backend.for_filesystem(fs, timeout, secrets, root, spec.name)
    return Source(spec, protocol, root, backend)


class SourceRegistry:
    """The sources in force. A new configuration replaces them all at once."""

    def __init__(self, log: logging.Logger, timeout: float) -> None:
        self.log = log
        self.timeout = timeout
        self._sources: dict[str, Source] = {}
        self._per_user: dict[tuple[str, str], Source] = {}

    def replace(self, specs: Iterable[SourceSpec]) -> None:
        """Build the sources (at start, before the loop serves anything)."""
        self._sources = {spec.name: open_source(spec, self.timeout, self.log) for spec in specs}
        self._per_user.clear()

    async def replace_async(self, specs: Iterable[SourceSpec]) -> None:
        """Build the new sources in a thread (a backend may block while it starts),
        put them in force at once, then close the old ones."""
        specs = list(specs)
        built = await asyncio.to_thread(
            lambda: {spec.name: open_source(spec, self.timeout, self.log) for spec in specs}
        )
        old, self._sources = self._sources, built
        self._per_user.clear()
        await close_all(old.values())

    async def close(self) -> None:
        old, self._sources = self._sources, {}
        await close_all(old.values())

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

    def describe(self) -> list[dict[str, Any]]:
        return [source.describe() for source in self._sources.values()]

    @property
    def secrets(self) -> frozenset[str]:
        """All secrets of all sources, to scrub from any outgoing text."""
        found: set[str] = set()
        for source in self._sources.values():
            found |= secret_strings(source.spec.kwargs)
        return frozenset(found)


async def close_all(sources: Iterable[Source]) -> None:
    for source in sources:
        if source.backend is not None:
            try:
                await source.backend.close()
            except Exception as exc:  # one failure must not keep the others open
                logging.getLogger(__name__).warning(
                    "Closing source %r failed: %s", source.name, type(exc).__name__
                )
