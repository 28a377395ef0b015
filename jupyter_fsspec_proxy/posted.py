"""What a config posted to ``PUT api/config`` may contain: never more than the
operator allowed. The config file and traits are the operator's; a posted
document comes from any user the server authenticates."""

from __future__ import annotations

import os
from collections.abc import Iterable

import yaml
from fsspec.core import split_protocol, strip_protocol

from .config import ConfigError, SourceSpec, parse_config

MAX_POSTED_CONFIG = 64 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few bytes of aliases can expand to
    billions of nodes."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise ConfigError("posted config: YAML aliases (*name) are not allowed")
        return super().compose_node(parent, index)


class PostedSourceRefused(PermissionError):
    """A posted source reaches further than ``posted_source_roots`` allows: 403."""


def parse_posted(text: bytes) -> list[SourceSpec]:
    """Parse a posted document: bounded size, no aliases, bounded nesting."""
    if len(text) > MAX_POSTED_CONFIG:
        raise ConfigError(f"posted config: larger than {MAX_POSTED_CONFIG} bytes")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"posted config: invalid YAML{where}") from None
    except RecursionError:
        raise ConfigError("posted config: nested too deeply") from None
    return parse_config(data, "posted config")


def check_posted(
    specs: Iterable[SourceSpec], roots: Iterable[str], kwargs_allowed: Iterable[str], config: str
) -> None:
    """Refuse any posted source outside the operator's ``roots``: other protocols,
    chained URLs (``a::b``), storage options not listed in ``kwargs_allowed``, and
    local roots holding the config file."""
    allowed = [_normalize(root) for root in roots]
    allowed_kwargs = set(kwargs_allowed)
    config_real = os.path.realpath(config) if config else ""
    for spec in specs:
        where = f"posted source {spec.name!r}"
        if "::" in spec.path:
            raise PostedSourceRefused(f"{where}: chained URLs cannot be posted")
        protocol, path = _normalize(spec.path)
        if any(segment in (".", "..") for segment in path.split("/")):
            raise PostedSourceRefused(f"{where}: '.' and '..' are not allowed in posted paths")
        if not any(_below(protocol, path, root) for root in allowed):
            raise PostedSourceRefused(
                f"{where}: {protocol} paths outside c.FsspecProxy.posted_source_roots "
                "cannot be posted"
            )
        extra = sorted(set(spec.kwargs) - allowed_kwargs)
        if extra:
            raise PostedSourceRefused(
                f"{where}: storage options {extra} are not in c.FsspecProxy.posted_source_kwargs"
            )
        if protocol == "file" and config_real and _below("file", config_real, ("file", path)):
            raise PostedSourceRefused(f"{where}: may not contain the config file")


def _normalize(url: str) -> tuple[str, str]:
    protocol = split_protocol(url)[0] or "file"
    if protocol in ("file", "local"):
        return "file", os.path.realpath(strip_protocol(url))
    return protocol, strip_protocol(url).rstrip("/")


def _below(protocol: str, path: str, root: tuple[str, str]) -> bool:
    root_protocol, root_path = root
    if protocol != root_protocol:
        return False
    return path == root_path or path.startswith(root_path.rstrip("/") + "/")
