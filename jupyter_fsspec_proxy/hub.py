"""``jupyter fsspec-proxy hub``: the proxy as a JupyterHub-managed service.

Authentication is JupyterHub's own (``jupyterhub.singleuser.extension``): the
OAuth cookie for pages on the hub's origin, ``Authorization: token <hub API
token>`` for scripts and kernels; access needs the service's access scope
(``access:services!service=<name>``), granted through a hub role.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider

from .auth import AUTH_RESOURCE


class HubProxyAuthorizer(JupyterHubAuthorizer):
    """The hub's access scope, and the proxy's routes only: no kernels, terminals
    or contents, whoever asks."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == AUTH_RESOURCE and super().is_authorized(handler, user, action, resource)


SERVER_CONFIG = {
    "open_browser": False,
    "allow_root": True,
    "authorizer_class": HubProxyAuthorizer,
    "identity_provider_class": JupyterHubIdentityProvider,
    # Requests arrive through the hub's proxy, with the hub's public host name.
    "allow_remote_access": True,
    "trust_xheaders": True,
}


def hub_flags(args: list[str], has_option: Any) -> list[str]:
    """Where the hub said the service lives: its URL and prefix, unless given."""
    if not os.environ.get("JUPYTERHUB_API_TOKEN"):
        raise SystemExit(
            "jupyter fsspec-proxy hub: no JUPYTERHUB_API_TOKEN; run it as a service "
            "that JupyterHub starts (c.JupyterHub.services, with a 'command')"
        )
    flags = []
    url = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
    if url.hostname and has_option(args, "ip") is None:
        flags.append(f"--ServerApp.ip={url.hostname}")
    if url.port and has_option(args, "port") is None:
        flags.append(f"--ServerApp.port={url.port}")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and has_option(args, "base_url") is None:
        flags.append(f"--ServerApp.base_url={prefix}")
    return flags
