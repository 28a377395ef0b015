"""Authorization of the standalone proxy: its own routes and nothing else."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer

AUTH_RESOURCE = "fsspec_proxy"


class ProxyOnlyAuthorizer(Authorizer):
    """Grants the proxy's resource only, so a standalone proxy runs no kernels,
    terminals or contents API, whatever its authentication mode."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == AUTH_RESOURCE
