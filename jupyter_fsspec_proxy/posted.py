"""What a config posted to ``PUT api/config`` may contain: never more than the
operator allowed. The config file and traits are the operator's; a posted
document comes from one of ``config_admins``, and may reach no data that the
configured rules deny its poster."""

from __future__ import annotations

import os
from collections.abc import Iterable

import yaml
from fsspec.core import split_protocol, strip_protocol

from .access import USERNAME, Caller, user_segment
from .config import ConfigError, SourceSpec, parse_yaml

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
    return parse_yaml(text, "posted config", _NoAliasLoader)


def check_posted(
    specs: Iterable[SourceSpec],
    roots: Iterable[str],
    kwargs_allowed: Iterable[str],
    config: str,
    configured: Iterable[SourceSpec],
    poster: Caller,
) -> None:
    """Refuse any posted source outside the operator's ``roots``: other protocols,
    chained URLs (``a::b``), storage options not listed in ``kwargs_allowed``, local
    roots holding the config file, and any overlap with a ``configured`` source whose
    rules do not let the ``poster`` do what the posted source would allow."""
    allowed = [_normalize(root) for root in roots]
    configured = list(configured)
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
                f"{where}: {protocol} paths outside c.ProxyManager.posted_source_roots "
                "cannot be posted"
            )
        extra = sorted(set(spec.kwargs) - allowed_kwargs)
        if extra:
            raise PostedSourceRefused(
                f"{where}: storage options {extra} are not in c.ProxyManager.posted_source_kwargs"
            )
        if protocol == "file" and config_real and _below("file", config_real, ("file", path)):
            raise PostedSourceRefused(f"{where}: may not contain the config file")
        for other in configured:
            if _reaches(protocol, path, other, poster) and not _granted(other, poster, spec):
                raise PostedSourceRefused(
                    f"{where}: reaches data of a configured source that the access rules "
                    "do not let you " + ("read" if spec.readonly else "read and write")
                )


def _reaches(protocol: str, path: str, other: SourceSpec, poster: Caller) -> bool:
    """Whether a source at ``protocol://path`` would reach ``other``'s data (it lies
    inside it, or holds it); of a per-user source, anything but the poster's own root."""
    other_protocol, template = _normalize(other.path)
    if not other.per_user:
        return _overlap((protocol, path), (other_protocol, template))
    users = template[: template.index(USERNAME)].rpartition("/")[0]  # every user's root
    if not _overlap((protocol, path), (other_protocol, users)):
        return False
    own = template.replace(USERNAME, user_segment(poster.name)) if poster.is_user else None
    return own is None or not _below(protocol, path, (other_protocol, own))


def _granted(other: SourceSpec, poster: Caller, posted: SourceSpec) -> bool:
    """Whether the rules of ``other`` let the poster do what ``posted`` would let them."""
    if not poster.may_use(other.access):
        return False
    if posted.readonly:
        return True
    return not other.readonly and (other.access is None or other.access.may_write(poster))


def _overlap(one: tuple[str, str], other: tuple[str, str]) -> bool:
    return _below(one[0], one[1], other) or _below(other[0], other[1], one)


def _normalize(url: str) -> tuple[str, str]:
    """``(protocol, path)`` as the filesystem would see them; a protocol no installed
    filesystem knows keeps its path as written (such a source cannot start)."""
    protocol, rest = split_protocol(url)
    protocol = protocol or "file"
    if protocol in ("file", "local"):
        return "file", os.path.realpath(strip_protocol(url))
    try:
        return protocol, strip_protocol(url).rstrip("/")
    except ValueError:
        return protocol, rest.rstrip("/")


def _below(protocol: str, path: str, root: tuple[str, str]) -> bool:
    root_protocol, root_path = root
    if protocol != root_protocol:
        return False
    return path == root_path or path.startswith(root_path.rstrip("/") + "/")
