"""The source configuration: the prototype's YAML format, validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fsspec.core import split_protocol

from .access import USERNAME, Access, check_template, parse_access
from .ranges import BEYOND_ANY_FILE

ENTRY_KEYS = {"name", "path", "kwargs", "readonly", "access", "presigned_reads"}
PRESIGN_KEYS = {"min_size", "expires"}
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600  # S3's and GCS's limit for a presigned URL
#: The protocols whose backends sign URLs (Backend.presign).
PRESIGNING = ("s3", "s3a", "gs", "gcs", "abfs", "az")
DEFAULT_CONFIG = Path(__file__).with_name("default_config.yaml")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says why."""


@dataclass(frozen=True)
class PresignedReads:
    """Reads of objects of ``min_size`` bytes or more are redirected to a presigned
    URL valid for ``expires`` seconds: the bytes then bypass the proxy."""

    min_size: int = 0
    expires: int = 300


@dataclass(frozen=True)
class SourceSpec:
    """One configured source. ``kwargs`` are storage options and may hold secrets."""

    name: str
    path: str
    kwargs: Mapping[str, Any] = field(default_factory=dict, repr=False)
    readonly: bool = False
    access: Access | None = None  # None: any authenticated user
    presigned_reads: PresignedReads | None = None  # None: the proxy sends every byte

    @property
    def per_user(self) -> bool:
        """True if the path holds ``{username}``: each caller gets a root of their own."""
        return USERNAME in self.path


def parse_config(data: Any, origin: str) -> list[SourceSpec]:
    """Validate a parsed document (``{"sources": [...]}``) into source specs."""
    if not isinstance(data, Mapping) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{origin}: expected a mapping with a 'sources' list")
    return parse_sources(data["sources"], origin)


def parse_sources(entries: Iterable[Any], origin: str) -> list[SourceSpec]:
    """Validate a list of source entries; names must be unique."""
    specs: list[SourceSpec] = []
    for index, entry in enumerate(entries):
        where = f"{origin}: source #{index + 1}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        name, path = entry.get("name"), entry.get("path")
        if isinstance(name, str) and name:
            where = f"{origin}: source {name!r}"
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {sorted(map(str, unknown))}; "
                f"a source has {', '.join(sorted(ENTRY_KEYS))}"
            )
        kwargs, readonly = entry.get("kwargs") or {}, entry.get("readonly", False)
        if not isinstance(name, str) or not _valid_name(name):
            raise ConfigError(f"{where}: 'name' must be a non-empty string without '/' or '\\'")
        where = f"{origin}: source {name!r}"
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}: 'path' must be a non-empty string")
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"{where}: 'kwargs' must be a mapping")
        if not isinstance(readonly, bool):
            raise ConfigError(f"{where}: 'readonly' must be true or false")
        try:
            check_template(path, where)
            access = None if entry.get("access") is None else parse_access(entry["access"], where)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        presigned = entry.get("presigned_reads")
        if presigned is not None:
            presigned = parse_presigned_reads(presigned, path, where)
        specs.append(SourceSpec(name, path, dict(kwargs), readonly, access, presigned))
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: duplicate source names {duplicates}")
    return specs


def parse_presigned_reads(entry: Any, path: str, where: str) -> PresignedReads:
    """``presigned_reads: {min_size: bytes, expires: seconds}``, for the stores that
    sign URLs (S3, GCS, Azure Blob)."""
    if split_protocol(path)[0] not in PRESIGNING:
        raise ConfigError(
            f"{where}: 'presigned_reads' needs an s3://, gs://, gcs://, abfs:// or az:// source"
        )
    if not isinstance(entry, Mapping) or set(entry) - PRESIGN_KEYS:
        raise ConfigError(f"{where}: 'presigned_reads' takes min_size (bytes), expires (seconds)")
    reads = PresignedReads(**entry)
    for key, value, low, high in (
        ("min_size", reads.min_size, 0, BEYOND_ANY_FILE),
        ("expires", reads.expires, 1, MAX_PRESIGN_EXPIRES),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(
                f"{where}: 'presigned_reads' {key} must be a whole number from {low} to {high}"
            )
    return reads


def parse_yaml(
    text: str | bytes, origin: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader
) -> list[SourceSpec]:
    """Parse YAML (or JSON) text with a safe ``loader``. Error messages never quote
    the document."""
    try:
        data = yaml.load(text, Loader=loader)  # a SafeLoader or a subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{origin}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: nested too deeply") from None
    return parse_config(data, origin)


def load_file(path: str | Path) -> list[SourceSpec]:
    """Read and validate a config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    return parse_yaml(text, str(path))


def merge(file_specs: list[SourceSpec], trait_specs: list[SourceSpec]) -> list[SourceSpec]:
    """File sources first; a trait source replaces a file source of the same name."""
    overridden = {spec.name for spec in trait_specs}
    return [spec for spec in file_specs if spec.name not in overridden] + trait_specs


def _valid_name(name: str) -> bool:
    return bool(name.strip()) and not any(c in name for c in "/\\\x00") and name not in (".", "..")
