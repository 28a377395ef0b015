"""Identity and authorization of the standalone proxy: its own routes and nothing else."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer
from jupyter_server.auth.identity import PasswordIdentityProvider, User

AUTH_RESOURCE = "fsspec_proxy"


class ProxyOnlyAuthorizer(Authorizer):
    """Grants the proxy's resource only, so a standalone proxy runs no kernels,
    terminals or contents API, whatever its authentication mode."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == AUTH_RESOURCE


class HeaderTokenIdentityProvider(PasswordIdentityProvider):
    """Jupyter's token and password login, except that a request authenticated by its
    ``Authorization`` header is not given a login cookie.

    Such clients send their token with every request; a cookie would add signing
    work to each response and a session that cross-site requests could ride on.
    A token in the URL or a password login still starts a cookie session.
    """

    _token_holder: User | None = None

    def generate_anonymous_user(self, handler: Any) -> User:
        """The holder of the server's token: one user, made once (Jupyter makes a new
        random one for every request, which costs time and names no one)."""
        if self._token_holder is None:
            self._token_holder = super().generate_anonymous_user(handler)
        return self._token_holder

    def set_login_cookie(self, handler: Any, user: User) -> None:
        if not handler.request.headers.get("Authorization"):
            super().set_login_cookie(handler, user)

    def validate_security(self, app: Any, ssl_options: Any = None) -> None:
        """Jupyter's warning that anyone who connects can run code does not hold here:
        the standalone proxy runs no code (its unsecured modes warn in their own words)."""
        if self.auth_enabled or not app.ip:
            super().validate_security(app, ssl_options)
