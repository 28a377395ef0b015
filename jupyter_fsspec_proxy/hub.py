"""``jupyter fsspec-proxy hub``: the proxy as a JupyterHub-managed service.

Authentication is JupyterHub's own (``jupyterhub.singleuser.extension``): the
OAuth cookie for pages on the hub's origin, ``Authorization: token <hub API
token>`` for scripts and kernels; access needs the service's access scope
(``access:services!service=<name>``), granted through a hub role.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth
from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider
from traitlets import Integer, TraitError, default, validate

from .auth import AUTH_RESOURCE

#: Whether the request being identified changes something: then the hub is asked anew.
_WRITING: ContextVar[bool] = ContextVar("writing", default=False)


class ServiceHubAuth(HubOAuth):
    """The hub's OAuth, with the hub's answers about a token or cookie kept for
    seconds, not minutes, and never used for a write: a revoked token, a deleted
    user or a changed group stops every write at once, and every read within
    ``cache_max_age``."""

    def get_user(self, handler: Any, *, sync: bool = True) -> Any:
        _WRITING.set(handler.request.method not in ("GET", "HEAD", "OPTIONS"))
        return super().get_user(handler, sync=sync)

    def user_for_token(
        self, token: str, use_cache: bool = True, session_id: str = "", *, sync: bool = True
    ) -> Any:
        fresh = _WRITING.get()
        return super().user_for_token(
            token, use_cache=use_cache and not fresh, session_id=session_id, sync=sync
        )

    cache_max_age = Integer(
        5,
        config=True,
        help="""Seconds the hub's answer about a token or cookie is kept (JupyterHub's
        default is 300). Revocations take effect within this time. At least 1: to
        JupyterHub, 0 means keeping answers forever.""",
    )

    @validate("cache_max_age")
    def _at_least_a_second(self, proposal: Any) -> int:
        if proposal.value < 1:
            raise TraitError("cache_max_age must be at least 1 (0 would keep answers forever)")
        return proposal.value


class HubIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's identity provider with :class:`ServiceHubAuth`."""

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return ServiceHubAuth(parent=self)


class HubProxyAuthorizer(JupyterHubAuthorizer):
    """The hub's access scope, and the proxy's routes only: no kernels, terminals
    or contents, whoever asks."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == AUTH_RESOURCE and super().is_authorized(handler, user, action, resource)


SERVER_CONFIG = {
    "open_browser": False,
    "allow_root": True,
    "authorizer_class": HubProxyAuthorizer,
    "identity_provider_class": HubIdentityProvider,
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
