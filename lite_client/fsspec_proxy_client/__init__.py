"""fsspec filesystem for jupyter-fsspec-proxy."""

from __future__ import annotations

import fsspec

from .errors import FileChangedError, ProxyError
from .filesystem import AsyncProxyFileSystem, ProxyFileSystem

__version__ = "0.1.0"
__all__ = ["AsyncProxyFileSystem", "FileChangedError", "ProxyError", "ProxyFileSystem"]

# The entry point registers the protocol when fsspec is imported after this
# package is installed; registering here covers fsspec imported before that.
fsspec.register_implementation("proxy", ProxyFileSystem, clobber=True)
