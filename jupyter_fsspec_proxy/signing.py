"""Signed URLs: tokens that let anyone read one file until they expire.

A token is ``<payload>.<mac>``, both base64url: the payload is JSON with the
path (``<source>/<path>``), the expiry and the signer's identity (name, kind,
groups and whether a hub admin: all that access rules look at); the MAC is
HMAC-SHA256 of the payload under the server's key. It holds no secret of any
source; whoever has the token may read that one file as its signer could,
until it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .access import Caller
from .config import ConfigError
from .errors import SignedUrlRefused

#: Signs nothing but signed-URL payloads, so a MAC made here means nothing elsewhere.
_DOMAIN = b"jupyter-fsspec-proxy signed URL v1\x00"
MIN_KEY_BYTES = 16
MAX_TOKEN_LENGTH = 16384


@runtime_checkable
class KnowsSigners(Protocol):
    """An identity provider that can say who a URL's signer is now (JupyterHub's)."""

    async def signer_now(self, signer: Caller) -> Caller:
        """``signer`` as known now; raises SignedUrlRefused for one that is gone."""
        ...


def signing_key(key: str, key_file: str) -> bytes:
    """The configured key (a string, or a file's content), else a random one for
    this process; raises ConfigError for a missing file or a short key."""
    if key and key_file:
        raise ConfigError("Set c.ProxyManager.signing_key or signing_key_file, not both")
    if key_file:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"c.ProxyManager.signing_key_file {key_file!r} cannot be read: {type(exc).__name__}"
            ) from None
    if not key:
        return secrets.token_bytes(32)
    encoded = key.encode()
    if len(encoded) < MIN_KEY_BYTES:
        raise ConfigError(
            f"The signing key must be at least {MIN_KEY_BYTES} bytes long "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return encoded


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: reading ``path`` as ``signer`` until ``expires``."""

    path: str
    signer: Caller
    expires: int


class UrlSigner:
    """Makes and checks tokens with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, path: str, signer: Caller, seconds: float) -> tuple[str, int]:
        """A token that reads ``path`` as ``signer`` for ``seconds`` (at least) from
        now, and when it expires (unix seconds)."""
        expires = math.ceil(time.time() + seconds)
        payload = {
            "path": path,
            "expires": expires,
            "user": signer.name,
            "kind": signer.kind,
            "groups": sorted(signer.groups),
            "admin": signer.admin,
        }
        encoded = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{encoded}.{_b64(self._mac(encoded))}", expires

    def verify(self, token: str) -> Grant:
        """The grant of a token, checked in constant time; raises SignedUrlRefused
        for a forged, damaged or expired one."""
        encoded, _, mac = token.rpartition(".")
        if not encoded or len(token) > MAX_TOKEN_LENGTH:
            raise SignedUrlRefused("This is not a signed URL of this server")
        try:
            given = _unb64(mac)
        except ValueError:
            raise SignedUrlRefused("This is not a signed URL of this server") from None
        if not hmac.compare_digest(given, self._mac(encoded)):
            raise SignedUrlRefused(
                "This signed URL's signature is not valid (altered, or signed with another key)"
            )
        grant = _grant(json.loads(_unb64(encoded)))
        if time.time() >= grant.expires:
            raise SignedUrlRefused("This signed URL has expired")
        return grant

    def _mac(self, encoded: str) -> bytes:
        return hmac.new(self._key, _DOMAIN + encoded.encode(), hashlib.sha256).digest()


def _grant(payload: Any) -> Grant:
    """The grant a payload describes; only payloads this server signed get here."""
    signer = Caller(
        str(payload["user"]),
        frozenset(map(str, payload["groups"])),
        str(payload["kind"]),
        payload["admin"] is True,
    )
    return Grant(str(payload["path"]), signer, int(payload["expires"]))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
