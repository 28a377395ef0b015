"""Configured sources: their filesystems, roots and availability."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.asyn import AsyncFileSystem
from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem
from tornado.web import HTTPError

from .backend import Backend
from .config import SourceSpec
from .errors import scrub, secret_strings


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

    @property
    def _prefix(self) -> str:
        return self.root if not self.root or self.root.endswith("/") else self.root + "/"

    def full_path(self, relpath: str) -> str:
        """The backend path of a validated source-relative path."""
        path = self._prefix + relpath if relpath else self.root
        if self.backend is not None and isinstance(self.backend.fs, LocalFileSystem):
            real = os.path.realpath(path)
            if real != self.root and not real.startswith(self._prefix):
                raise HTTPError(403, "Path leads outside the source root")
            return real
        return path

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
        if issubclass(cls, LocalFileSystem):
            options.setdefault("auto_mkdir", True)  # like object stores: no mkdir needed
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

    def replace(self, specs: Iterable[SourceSpec]) -> None:
        built = {spec.name: open_source(spec, self.timeout, self.log) for spec in specs}
        self._sources = built

    def get(self, name: str) -> Source:
        try:
            source = self._sources[name]
        except KeyError:
            raise HTTPError(404, "No source named %r", name) from None
        if source.backend is None:
            raise HTTPError(503, "Source %r is unavailable: %s", name, source.reason)
        return source

    def describe(self) -> list[dict[str, Any]]:
        return [source.describe() for source in self._sources.values()]

    @property
    def secrets(self) -> frozenset[str]:
        """All secrets of all sources, to scrub from any outgoing text."""
        found: set[str] = set()
        for source in self._sources.values():
            found |= secret_strings(source.spec.kwargs)
        return frozenset(found)
