"""``jupyter fsspec-proxy hub``: the proxy as a JupyterHub service, started by the
hub (managed) or by the operator, as one of several replicas (external).

Authentication is JupyterHub's own (``jupyterhub.singleuser.extension``): the
OAuth cookie for pages on the hub's origin, ``Authorization: token <hub API
token>`` for scripts and kernels; access needs the service's access scope
(``access:services!service=<name>``), granted through a hub role.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, urlsplit

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.utils import url_path_join
from jupyterhub.services.auth import HubOAuth
from jupyterhub.singleuser.extension import (
    JupyterHubAuthorizer,
    JupyterHubIdentityProvider,
    JupyterHubOAuthCallbackHandler,
)
from jupyterhub.utils import get_browser_protocol
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Dict, Integer, TraitError, default, validate

from .access import Caller
from .auth import AUTH_RESOURCE
from .errors import SignedUrlRefused, SourceError

#: Whether the request being identified changes something: then the hub is asked anew.
_WRITING: ContextVar[bool] = ContextVar("writing", default=False)
#: The longest page address a login's carried state keeps (the rest of it is small).
MAX_CARRIED_URL = 2048
#: What the service asks the hub about a signed URL's signer: their groups and admin.
SIGNER_SCOPES = ("read:users:name", "read:users:groups", "read:services:name")
#: Signers whose hub answer is kept (each for at most ``cache_max_age`` seconds).
MAX_KNOWN_SIGNERS = 4096
HUB_TIMEOUT = 10  # seconds for the hub to say who a signer is


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

    def set_state_cookie(self, handler: Any, next_url: str | None = None, **extra: Any) -> str:
        """JupyterHub keeps a login's state (where to go next, the PKCE verifier) in
        the memory of the process that started it; it is also put in a cookie, signed
        with the cookie secret that replicas share, so that whichever replica the hub
        sends the browser back to can finish the login."""
        state_id = super().set_state_cookie(handler, next_url=next_url, **extra)
        state = dict(self._oauth_states[state_id])
        if len(state.get("next_url") or "") > MAX_CARRIED_URL:
            del state["next_url"]  # a cookie holds 4 KiB: the login ends at the service's root
        handler.set_secure_cookie(
            self._carried_state_cookie(state_id),
            json.dumps(state),
            path=self.cookie_path,
            httponly=True,
            max_age=self.oauth_state_max_age,
            secure=self.cookie_host_prefix_enabled
            or get_browser_protocol(handler.request) == "https",
        )
        return state_id

    def restore_state(self, handler: Any) -> None:
        """The state of a login that another replica (or this one before a restart)
        started, from its signed cookie, unless this process holds it."""
        state_id = handler.get_argument("state", "")
        if not state_id or self._decode_state(state_id):
            return
        carried = handler.get_secure_cookie(
            self._carried_state_cookie(state_id),
            max_age_days=self.oauth_state_max_age / 86400,
        )
        if carried:
            self._oauth_states[state_id] = json.loads(carried)

    def _carried_state_cookie(self, state_id: str) -> str:
        # Starts like the state cookie, so JupyterHub clears it with that one.
        digest = hashlib.sha256(state_id.encode()).hexdigest()[:16]
        return f"{self.state_cookie_name}-carried-{digest}"


class OAuthCallbackHandler(JupyterHubOAuthCallbackHandler):
    """JupyterHub's OAuth callback, for a login that any replica may have started."""

    @allow_unauthenticated
    async def get(self) -> None:
        self.hub_auth.restore_state(self)
        await super().get()


class HubIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's identity provider with :class:`ServiceHubAuth` and its callback,
    and who a signed URL's signer is now (:class:`~.signing.KnowsSigners`)."""

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return ServiceHubAuth(parent=self)

    #: (kind, name) -> (when the hub was asked, its answer), oldest first
    _signers = Dict()

    async def signer_now(self, signer: Caller) -> Caller:
        """The signer as the hub knows them now (their groups and admin status), asked
        at most every ``cache_max_age`` seconds; raises SignedUrlRefused once the hub
        has deleted them."""
        key = (signer.kind, signer.name)
        now = time.monotonic()
        known = self._signers.get(key)
        if known is None or now - known[0] >= self.hub_auth.cache_max_age:
            known = (now, await self._hub_model_of(signer))
            self._signers.pop(key, None)
            while len(self._signers) >= MAX_KNOWN_SIGNERS:
                del self._signers[next(iter(self._signers))]  # the longest known
            self._signers[key] = known
        if known[1] is None:
            raise SignedUrlRefused("The signer of this URL is no longer on this hub")
        return known[1]

    async def _hub_model_of(self, signer: Caller) -> Caller | None:
        """The hub's answer about ``signer`` (None: no such user or service)."""
        kind = "users" if signer.is_user else "services"
        url = f"{self.hub_auth.api_url}/{kind}/{quote(signer.name, safe='')}"
        headers = {"Authorization": f"token {self.hub_auth.api_token}"}
        unreachable = SourceError(
            502, "HubUnreachable", "The hub could not be asked who signed this URL; try again"
        )
        try:
            answer = await AsyncHTTPClient().fetch(
                url, headers=headers, raise_error=False, request_timeout=HUB_TIMEOUT
            )
        except (OSError, HTTPClientError) as exc:
            self.log.warning("fsspec-proxy could not reach the hub at %s: %s", url, exc)
            raise unreachable from None
        if answer.code == 404:
            return None
        if answer.code == 403:
            scopes = ", ".join(SIGNER_SCOPES)
            self.log.error(
                "fsspec-proxy may not ask the hub who signed a URL: give the service a "
                "role with the scopes %s (docs/jupyterhub.md)",
                scopes,
            )
            raise SourceError(
                503,
                "HubRefused",
                "The hub does not let this proxy check who signed this URL; its "
                f"administrator must give the service the scopes {scopes}",
            )
        if answer.code != 200:
            raise unreachable
        return Caller.of_hub_model(json.loads(answer.body), signer.name)

    def get_handlers(self) -> list[tuple[Any, ...]]:
        return [
            (path, OAuthCallbackHandler if path == "/oauth_callback" else handler, *rest)
            for path, handler, *rest in super().get_handlers()
        ]


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
    """Who the service is and where it lives, from the environment: what the hub
    tells a service it starts, or, for an external one, what follows from its name
    (``JUPYTERHUB_SERVICE_NAME``): the OAuth client ``service-<name>`` and the prefix
    ``<hub base URL>services/<name>/``, JupyterHub's own defaults for a service. The
    address to listen on comes from ``--ip``/``--port``, else from
    ``JUPYTERHUB_SERVICE_URL``, which only a managed service is given."""
    environ = os.environ
    name = environ.get("JUPYTERHUB_SERVICE_NAME", "")
    if not environ.get("JUPYTERHUB_API_TOKEN") or not (environ.get("JUPYTERHUB_CLIENT_ID") or name):
        raise SystemExit(
            "jupyter fsspec-proxy hub: no JUPYTERHUB_API_TOKEN or JUPYTERHUB_SERVICE_NAME; "
            "run it as a service that JupyterHub starts (c.JupyterHub.services, with a "
            "'command'), or as an external one with JUPYTERHUB_API_TOKEN (the service's "
            "api_token), JUPYTERHUB_API_URL and JUPYTERHUB_SERVICE_NAME set (docs/scale-out.md)"
        )
    flags = []
    url = urlsplit(environ.get("JUPYTERHUB_SERVICE_URL", ""))
    if url.hostname and has_option(args, "ip") is None:
        flags.append(f"--ServerApp.ip={url.hostname}")
    if url.port and has_option(args, "port") is None:
        flags.append(f"--ServerApp.port={url.port}")
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix:  # HubAuth reads the variable at import: tell it as the server is told
        prefix = url_path_join(environ.get("JUPYTERHUB_BASE_URL") or "/", "services", name, "")
        flags.append(f"--HubAuth.base_url={prefix}")
    if has_option(args, "base_url") is None:
        flags.append(f"--ServerApp.base_url={prefix}")
    if not environ.get("JUPYTERHUB_CLIENT_ID"):
        flags.append(f"--HubOAuth.oauth_client_id=service-{name}")
    return flags
