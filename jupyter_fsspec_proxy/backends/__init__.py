"""How the proxy runs fsspec calls for each kind of store: the shared base
(:mod:`.base`) and one module per kind, chosen by the source's protocol."""

from __future__ import annotations

from fsspec.asyn import AsyncFileSystem

from .azure import AzureBackend
from .base import Backend, ThreadedBackend, Upload
from .gcs import GCSBackend
from .http import HTTPBackend
from .local import LocalBackend
from .s3 import S3Backend
from .sftp import SFTPBackend
from .webdav import WebDAVBackend

__all__ = ["Backend", "Upload", "backend_kind"]

KINDS: dict[str, type[Backend]] = {
    "file": LocalBackend,
    "local": LocalBackend,
    "s3": S3Backend,
    "s3a": S3Backend,
    "gs": GCSBackend,
    "gcs": GCSBackend,
    "abfs": AzureBackend,
    "az": AzureBackend,
    "sftp": SFTPBackend,
    "ssh": SFTPBackend,
    "webdav": WebDAVBackend,
    "dav": WebDAVBackend,
    "http": HTTPBackend,
    "https": HTTPBackend,
}


def backend_kind(protocol: str, fs_class: type) -> type[Backend]:
    """The backend for a protocol; any other asynchronous filesystem is awaited on the
    loop, any other synchronous one runs in the source's threads."""
    if protocol in KINDS:
        return KINDS[protocol]
    if issubclass(fs_class, AsyncFileSystem) and fs_class.async_impl:
        return Backend
    return ThreadedBackend
